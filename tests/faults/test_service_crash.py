"""kill -9 of each service (`hookmesh run <service>`) under load, then a restart: every event answered 202
is delivered (or, breaking the schema, dead-lettered); repeats happen only for delivery's in-flight POSTs,
always with the event's own webhook-id."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from shared.settings import SERVICES
from tests.faults.conftest import apply_text, fault_config
from tests.support.load import LoadDriver, dead_letter_event_ids, tally, undelivered
from tests.support.natsserver import NatsServer
from tests.support.polling import eventually
from tests.support.processes import ServiceSet
from tests.support.sink import RecordingSink

pytestmark = pytest.mark.faults

DESTINATION_MAX_IN_FLIGHT = 16  # the destination default: at most this many POSTs were in flight at the kill


async def drained(services: ServiceSet, load: LoadDriver, sink: RecordingSink) -> set[str]:
    """Wait until every accepted valid event was delivered and every invalid one dead-lettered."""
    await eventually(lambda: not undelivered(load, sink), timeout=60, interval=0.2,
                     what="every accepted event delivered")

    async def dead_lettered() -> set[str] | None:
        ids = set(await dead_letter_event_ids(services.url("deadletter"), reason="schema_invalid"))
        return ids if load.invalid <= ids else None

    return await eventually(dead_lettered, timeout=30, interval=0.3, what="every invalid event dead-lettered")


@pytest.mark.parametrize("victim", SERVICES)
async def test_kill9_of_a_service_under_load_loses_nothing(victim: str, nats_server: NatsServer,
                                                           sink: RecordingSink, sink_secret: str,
                                                           tmp_path: Path) -> None:
    await apply_text(nats_server.url, fault_config(sink.url))
    services = ServiceSet(nats_server.url, tmp_path)
    try:
        await services.start()
        load = LoadDriver(f"{services.url('ingress')}/v1/hooks/shop", events=5000, rate=150,
                          invalid_every=10).start()
        await eventually(lambda: len(load.accepted) >= 150, timeout=20, what="150 events accepted")
        proc = services.procs[victim]
        proc.kill9()
        killed = time.monotonic()
        await proc.start()
        back = time.monotonic()
        floor = len(load.accepted) + 150
        await eventually(lambda: len(load.accepted) >= floor, timeout=30, what="150 accepted after the restart")
        load.stop()
        await load.finished(timeout=60)
        load_done = time.monotonic()
        dead = await drained(services, load, sink)
        figures = tally(load, sink, recover_s=back - killed, dead_lettered=dead)
        figures.print(f"kill -9 {victim}", dead_lettered=len(load.invalid),
                      drain_after_load_s=round(time.monotonic() - load_done, 2))
        assert figures.lost == 0
        assert figures.foreign_ids == 0
        assert figures.accepted >= 300
        if victim == "delivery":
            assert figures.duplicates <= DESTINATION_MAX_IN_FLIGHT
        else:
            assert figures.duplicates == 0  # redelivered hops publish with the same Nats-Msg-Id
        if victim == "ingress":
            # Requests in flight when ingress died may have been stored without their 202 (at-least-once:
            # the sender retries); never more than were in flight.
            assert figures.unacknowledged_delivered <= load.concurrency
            # Refused while down, 503 while starting again: never a 500.
            assert set(load.statuses) - {"202", "503"} <= {"ClientConnectorError", "ServerDisconnectedError",
                                                           "ClientOSError"}, load.statuses
        else:
            assert figures.unacknowledged_delivered == 0
            assert load.statuses == {"202": load.sent}
        assert len(dead) == len(set(dead))
    finally:
        services.stop()
