"""shared/cli/progress.py: the bar bulk CLI commands draw."""

from __future__ import annotations

import io

from shared.cli.progress import Progress, render


def test_render_fills_in_proportion_and_tallies_outcomes() -> None:
    assert render(0, 4, {}, width=8) == "[--------] 0/4"
    assert render(1, 4, {"replayed": 1}, width=8) == "[##------] 1/4  replayed 1"
    assert render(4, 4, {"replayed": 3, "failed": 1}, width=8) == "[########] 4/4  replayed 3, failed 1"
    assert render(0, 0, {}, width=4) == "[####] 0/0"


def test_progress_logs_lines_when_not_on_a_terminal() -> None:
    out = io.StringIO()
    progress = Progress(2, stream=out)
    progress.step("discarded")
    progress.step("failed")
    progress.finish()
    assert out.getvalue().splitlines()[-1].endswith("2/2  discarded 1, failed 1")
