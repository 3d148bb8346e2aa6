"""Isolation: a destination answering after 5 s does not slow another destination's deliveries."""

from __future__ import annotations

import statistics
import time

from tests.support.events import ROUTING_DELIVERY, config, destination, publish, route
from tests.support.mesh import Mesh
from tests.support.sink import RecordingSink

EVENTS = 60


async def test_slow_destination_does_not_slow_another(mesh_factory: type[Mesh], sink: RecordingSink) -> None:
    slow = RecordingSink(delay=5.0)
    await slow.start()
    try:
        mesh = mesh_factory(services=ROUTING_DELIVERY)
        await mesh.apply(config(
            [destination("slow", slow.url, "max_in_flight: 4\ntimeout: 10s"), destination("fast", sink.url)],
            [route("both", ["slow", "fast"])]))
        await mesh.start()
        published: dict[str, float] = {}
        for i in range(EVENTS):
            event_id = await publish(mesh, {"n": i})
            published[event_id] = time.monotonic()
        received = await sink.wait_for(EVENTS, timeout=10)
        latencies = sorted(r.at - published[r.headers["webhook-id"]] for r in received)
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        print(f"fast destination: p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms; "
              f"slow destination answered {len(slow.received)} so far")
        assert p99 < 1.0, latencies  # generous: unaffected deliveries take milliseconds, the slow one 5 s
        assert len(slow.received) < EVENTS  # the slow one is still working through its backlog
    finally:
        await slow.stop()
