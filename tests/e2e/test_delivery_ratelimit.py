"""Rate limit per destination (aiolimiter): a burst of one second's worth, then the configured rate."""

from __future__ import annotations

from tests.support.events import ROUTING_DELIVERY, config, destination, publish, route
from tests.support.mesh import Mesh
from tests.support.sink import RecordingSink

RATE = 20
EVENTS = 50


async def test_rate_limit_is_honoured(mesh_factory: type[Mesh], sink: RecordingSink) -> None:
    mesh = mesh_factory(services=ROUTING_DELIVERY)
    await mesh.apply(config([destination("limited", sink.url, f"rate_limit: {RATE}/s\nmax_in_flight: 50")],
                            [route("orders", ["limited"])]))
    await mesh.start()
    for i in range(EVENTS):
        await publish(mesh, {"n": i})
    received = await sink.wait_for(EVENTS, timeout=10)
    times = sorted(r.at for r in received)
    span = times[-1] - times[0]
    # The leaky bucket lets RATE through at once, then RATE per second: (EVENTS - RATE) / RATE seconds at least.
    expected = (EVENTS - RATE) / RATE
    steady = (EVENTS - RATE) / (times[-1] - times[RATE - 1])
    print(f"{EVENTS} events in {span:.2f}s (expected >= {expected:.2f}s); steady rate {steady:.1f}/s for {RATE}/s")
    assert expected * 0.9 <= span <= expected + 2.0
    # No one-second window ever holds more than the bucket's capacity plus what drains during it.
    for i, start in enumerate(times):
        in_window = sum(1 for t in times[i:] if t < start + 1.0)
        assert in_window <= 2 * RATE + 1
    assert steady <= RATE * 1.15
    registry = mesh.hosts["delivery"].registry
    waits = registry.get_sample_value("hookmesh_delivery_rate_limit_wait_seconds_count", {"destination": "limited"})
    waited = registry.get_sample_value("hookmesh_delivery_rate_limit_wait_seconds_sum", {"destination": "limited"})
    assert waits == EVENTS and waited is not None and waited > (EVENTS - RATE) / RATE  # the queue waited, in sum
