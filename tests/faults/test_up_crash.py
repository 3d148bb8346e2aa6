"""`hookmesh up` as a whole under load: kill -9 (its embedded nats-server goes with it, by the parent-death
signal) or SIGTERM (drain), then `hookmesh up` again on the same --data-dir: every event answered 202 is
delivered."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from shared.embedded_nats import free_port
from tests.faults.conftest import fault_config
from tests.support.load import LoadDriver, tally, undelivered
from tests.support.polling import eventually
from tests.support.processes import HookmeshProcess, port_closed, run_up, service_env, service_ports
from tests.support.sink import RecordingSink

pytestmark = pytest.mark.faults
GRACE_SECONDS = 5
CONNECTION_ERRORS = {"ClientConnectorError", "ServerDisconnectedError", "ClientOSError"}


def up_process(sink: RecordingSink, tmp_path: Path) -> tuple[HookmeshProcess, int, dict[str, int]]:
    config = tmp_path / "hookmesh.yaml"
    config.write_text(fault_config(sink.url))
    ports, nats_port = service_ports(), free_port()
    env = service_env(None, ports, HOOKMESH_DRAIN_GRACE_SECONDS=str(GRACE_SECONDS))
    return run_up(config, tmp_path / "data", nats_port, env, tmp_path), nats_port, ports


@pytest.mark.parametrize("how", ["kill9", "sigterm"])
async def test_hookmesh_up_stopped_under_load_loses_nothing(how: str, sink: RecordingSink, sink_secret: str,
                                                            tmp_path: Path) -> None:
    up, nats_port, ports = up_process(sink, tmp_path)
    try:
        await up.start()
        load = LoadDriver(f"http://127.0.0.1:{ports['ingress']}/v1/hooks/shop", events=5000, rate=150).start()
        await eventually(lambda: len(load.accepted) >= 150, timeout=20, what="150 events accepted")
        stopped = time.monotonic()
        if how == "kill9":
            up.kill9()
        else:
            up.sigterm()
            code = await up.exited(timeout=GRACE_SECONDS + 10)
            assert code == 0, up.tail()
        exit_s = time.monotonic() - stopped
        await port_closed(nats_port)  # the embedded nats-server is gone too
        await up.start()
        back = time.monotonic()
        floor = len(load.accepted) + 150
        await eventually(lambda: len(load.accepted) >= floor, timeout=30, what="150 accepted after the restart")
        load.stop()
        await load.finished(timeout=60)
        await eventually(lambda: not undelivered(load, sink), timeout=60, interval=0.2,
                         what="every accepted event delivered")
        figures = tally(load, sink, recover_s=back - stopped)
        figures.print(f"hookmesh up {how}", exit_s=round(exit_s, 2))
        assert figures.lost == 0
        assert figures.foreign_ids == 0
        assert figures.accepted >= 300
        assert set(load.statuses) - {"202", "503"} <= CONNECTION_ERRORS, load.statuses
        if how == "kill9":
            assert figures.duplicates <= 16  # only the destination's in-flight POSTs at the kill
            assert figures.unacknowledged_delivered <= load.concurrency
        else:
            assert exit_s <= GRACE_SECONDS + 5
            assert figures.duplicates == 0  # a drain finishes and acknowledges what it holds
            # A request in flight at ingress when its HTTP server closed may be stored without its 202.
            assert figures.unacknowledged_delivered <= load.concurrency
            assert "hookmesh stopped" in up.output()
    finally:
        up.stop()
