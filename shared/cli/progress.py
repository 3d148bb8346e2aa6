"""A one-line progress bar for bulk CLI work, redrawn in place on a terminal, one line per step otherwise."""

from __future__ import annotations

import sys
from typing import TextIO


def render(done: int, total: int, counts: dict[str, int], *, width: int = 30) -> str:
    """`[#########---------]  12/40  replayed 11, failed 1`"""
    filled = width if total <= 0 else min(width, done * width // total)
    tally = ", ".join(f"{name} {count}" for name, count in counts.items() if count)
    return f"[{'#' * filled}{'-' * (width - filled)}] {done:>{len(str(total))}}/{total}" + (f"  {tally}" if tally
                                                                                               else "")


class Progress:
    def __init__(self, total: int, *, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.counts: dict[str, int] = {}
        self.done = 0

    def step(self, outcome: str) -> None:
        self.done += 1
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        line = render(self.done, self.total, self.counts)
        if self.tty:
            print(f"\r{line}", end="", file=self.stream, flush=True)
        elif self.done == self.total or self.done % max(1, self.total // 20) == 0:
            print(line, file=self.stream, flush=True)  # a log, not a redraw, when stderr is a file or pipe

    def finish(self) -> None:
        if self.tty and self.done:
            print(file=self.stream, flush=True)
