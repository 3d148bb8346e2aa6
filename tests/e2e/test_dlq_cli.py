"""`hookmesh dlq`, run as an operator runs it: filters, show, edit-and-replay, bulk work with a progress bar.

Most commands run in this process (the same parser and command functions the entry point uses) to keep
the test fast; the bulk replay runs as a real `hookmesh` process.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import pytest

from shared.cli.main import COMMANDS, build_parser
from tests.support.cli import Result, hookmesh
from tests.support.deadletters import listed, post_bad_orders, wait_for_letters
from tests.support.mesh import Mesh, config_yaml
from tests.support.polling import eventually
from tests.support.sink import RecordingSink

ORDER = {"order_id": "A-1001", "total": 42.5}


@pytest.fixture
def dlq(capsys: pytest.CaptureFixture[str]) -> Callable[..., Awaitable[Result]]:
    async def run(*argv: str, env: dict[str, str]) -> Result:
        args = build_parser().parse_args(["dlq", "--url", env["HOOKMESH_DEADLETTER_URL"], *argv])
        capsys.readouterr()
        code = await COMMANDS["dlq"](args)
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


async def test_list_show_and_edit_and_replay(mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str,
                                             dlq: Any) -> None:
    mesh = mesh_factory()
    await mesh.apply(config_yaml(sink.url))
    await mesh.start()
    env = {"HOOKMESH_DEADLETTER_URL": mesh.url("deadletter")}
    [old_id] = await post_bad_orders(mesh, 1)
    [letter] = await wait_for_letters(mesh, 1)

    table = await dlq("list", "--reason", "schema_invalid", "--since", "1h", env=env)
    assert table.code == 0, table.stderr
    assert letter["id"] in table.stdout and "schema_invalid" in table.stdout
    none = await dlq("list", "--stage", "delivery", "-o", "json", env=env)
    assert none.code == 0 and msgspec.json.decode(none.stdout) == []
    shown = await dlq("show", letter["id"], env=env)
    assert shown.code == 0 and msgspec.json.decode(shown.stdout)["event_id"] == old_id
    bad = await dlq("list", "--since", "last tuesday", env=env)
    assert bad.code == 1 and "HTTP 400" in bad.stderr and "neither an RFC 3339 time" in bad.stderr

    edited = await dlq("replay", letter["id"], "--data", '{"order_id": "A-7", "total": 7}', env=env)
    assert edited.code == 0, edited.stderr
    assert f"(replayof {old_id})" in edited.stdout
    [received] = await sink.wait_for(1)
    assert received.event["replayof"] == old_id and received.event["data"] == {"order_id": "A-7", "total": 7}


async def test_bulk_replay_and_bulk_discard_show_progress(
        mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str, dlq: Any) -> None:
    sink.script = [422] * 3
    mesh = mesh_factory()
    await mesh.apply(config_yaml(sink.url))
    await mesh.start()
    env = {"HOOKMESH_DEADLETTER_URL": mesh.url("deadletter")}
    for i in range(3):
        await mesh.post("shop", {**ORDER, "n": i})
    await wait_for_letters(mesh, 3)
    await post_bad_orders(mesh, 2)
    await wait_for_letters(mesh, 5)

    replayed = await hookmesh("dlq", "replay", "--destination", "sink", "--rate", "500", env=env)
    assert replayed.code == 0, replayed.stderr
    assert "[##############################] 3/3  replayed 3" in replayed.stderr
    assert "matched 3, replayed 3, already replayed 0, failed 0" in replayed.stdout
    await sink.wait_for(3)
    again = await dlq("replay", "--destination", "sink", env=env)
    assert again.code == 0 and "matched 0, replayed 0" in again.stdout

    unconfirmed = await dlq("discard", "--reason", "schema_invalid", env=env)
    assert unconfirmed.code == 1 and "2 dead letters match" in unconfirmed.stderr
    assert len(await listed(mesh, "reason=schema_invalid")) == 2
    discarded = await dlq("discard", "--reason", "schema_invalid", "--yes", env=env)
    assert discarded.code == 0, discarded.stderr
    assert "[##############################] 2/2  discarded 2" in discarded.stderr
    assert "discarded 2 of 2" in discarded.stdout
    await eventually(lambda: mesh.delivery_idle("sink"), what="delivery to go idle")
    assert [i["status"] for i in await listed(mesh)] == ["replayed"] * 3
    assert len(sink.succeeded()) == 3
