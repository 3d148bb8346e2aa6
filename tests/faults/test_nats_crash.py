"""kill -9 of the NATS server under load, restarted on the same store: every event answered 202 is
delivered, and while NATS was down ingress answered 503 (never 202)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.faults.conftest import fault_config
from tests.support.load import LoadDriver, tally
from tests.support.natsserver import NatsServer
from tests.support.polling import eventually
from tests.support.processes import port_closed, run_up, service_env, service_ports
from tests.support.sink import RecordingSink

pytestmark = pytest.mark.faults


async def test_nats_kill9_under_load_loses_no_accepted_event(nats_server: NatsServer, sink: RecordingSink,
                                                             sink_secret: str, tmp_path: Path) -> None:
    config = tmp_path / "hookmesh.yaml"
    config.write_text(fault_config(sink.url))
    ports = service_ports()
    # hookmesh up against this test's nats-server (NATS_URL set: no embedded server).
    up = run_up(config, tmp_path / "data", 0, service_env(nats_server.url, ports), tmp_path)
    try:
        await up.start()
        load = LoadDriver(f"http://127.0.0.1:{ports['ingress']}/v1/hooks/shop", events=900, rate=150).start()
        await eventually(lambda: len(load.accepted) >= 150, timeout=20, what="150 events accepted")

        nats_server.kill()
        killed = time.monotonic()
        await port_closed(nats_server.port)
        await eventually(lambda: load.count_between(killed, time.monotonic(), "503") >= 30, timeout=20,
                         what="ingress to answer 503 while NATS is down")
        await asyncio.to_thread(nats_server.start)  # same port, same store
        restarted = time.monotonic()
        await load.finished(timeout=60)
        first_202 = load.first_after(restarted)
        assert first_202 is not None, f"ingress never accepted again after the restart: {load.statuses}"

        def missing() -> int:
            return len(set(load.accepted) - {r.headers.get("webhook-id") for r in sink.succeeded()})

        await eventually(lambda: missing() == 0, timeout=60, interval=0.2, what="every accepted event delivered")
        figures = tally(load, sink, recover_s=first_202 - restarted)
        # Answers that arrived well after the kill and before the restart: none may be a 202.
        down_202 = load.count_between(killed + 0.5, restarted, "202")
        down_503 = load.count_between(killed, restarted, "503")
        figures.print("nats kill -9", down_s=round(restarted - killed, 2), answered_503_while_down=down_503,
                      answered_202_while_down=down_202)
        assert figures.lost == 0
        assert figures.foreign_ids == 0
        assert down_202 == 0 and down_503 >= 30
        assert set(load.statuses) <= {"202", "503"}, load.statuses
        assert figures.accepted >= 300
        # Every stage dedups its publishes by Nats-Msg-Id; only delivery's own in-flight POSTs may repeat.
        assert figures.duplicates <= 16
    finally:
        up.stop()
