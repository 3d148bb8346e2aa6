"""Circuit breaker: open → paused (no attempts) → half-open probe → closed, with no event lost."""

from __future__ import annotations

import time

from tests.support.events import ROUTING_DELIVERY, config, destination, publish, route
from tests.support.mesh import Mesh
from tests.support.polling import eventually
from tests.support.sink import RecordingSink

COOLDOWN = 1.0


async def test_breaker_opens_stops_attempts_probes_then_closes_and_delivers_everything(
        mesh_factory: type[Mesh], sink: RecordingSink) -> None:
    sink.default_status = 503
    mesh = mesh_factory(services=ROUTING_DELIVERY)
    await mesh.apply(config(
        [destination("flaky", sink.url, f"""
max_in_flight: 2
breaker: {{consecutive_failures: 3, min_attempts: 50, cooldown: {COOLDOWN}s}}""",
                     retry="{max_attempts: 50, initial: 50ms, max: 100ms}")],
        [route("orders", ["flaky"])]))
    await mesh.start()
    ids = [await publish(mesh, {"n": i}) for i in range(8)]

    async def breaker() -> str:
        ready = (await mesh.request("GET", f"{mesh.url('delivery')}/readyz")).json
        return ready["checks"]["destinations"]["flaky"]["breaker"]

    await eventually(lambda: _is(breaker, "open"), what="the breaker to open", interval=0.01)
    opened = time.monotonic()
    failures_when_opened = len(sink.received)
    assert failures_when_opened <= 3 + 2  # the 3 that opened it, plus at most the other in-flight attempt(s)

    # While open: no attempt for the cooldown; then a single probe, which fails (still 503) and re-opens.
    await sink.wait_for(failures_when_opened + 1, successes=False, timeout=COOLDOWN + 3)
    probe = sink.received[failures_when_opened]
    assert probe.at - opened >= COOLDOWN * 0.9
    await eventually(lambda: _is(breaker, "open"), what="the failed probe to re-open the breaker", interval=0.01)
    assert len(sink.received) == failures_when_opened + 1

    sink.default_status = 204  # the destination recovers: the next probe closes the breaker
    received = await sink.wait_for(len(ids), timeout=COOLDOWN + 10)
    assert {r.headers["webhook-id"] for r in received} == set(ids)
    await eventually(lambda: _is(breaker, "closed"), what="the breaker to close")
    assert sum(1 for r in sink.received if r.status == 503) == failures_when_opened + 1
    assert (await mesh.dlq("GET")).json["items"] == []
    metrics = (await mesh.request("GET", f"{mesh.url('delivery')}/metrics")).body.decode()
    assert 'hookmesh_destination_breaker_state{destination="flaky"} 0.0' in metrics
    for state, count in (("open", 2), ("half_open", 2), ("closed", 1)):
        assert f'hookmesh_destination_breaker_transitions_total{{destination="flaky",to="{state}"}} {count}.0' \
            in metrics


async def _is(probe: object, wanted: str) -> bool:
    return await probe() == wanted  # type: ignore[operator]
