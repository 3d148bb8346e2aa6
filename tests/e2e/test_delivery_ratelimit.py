"""Rate limit per destination (aiolimiter): a burst of one second's worth, then the configured rate."""

from __future__ import annotations

from nats.aio.msg import Msg

from shared import subjects
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


async def test_events_queued_for_a_low_rate_limit_are_kept_alive(mesh_factory: type[Mesh], sink: RecordingSink) -> None:
    """A limit of 1/s with 8 in flight queues the last events for 7 s: past the keep-alive interval,
    JetStream hears an in-progress ack for them, so a long queue never outlasts ack_wait and comes back
    as a duplicate."""
    mesh = mesh_factory(services=ROUTING_DELIVERY)
    await mesh.apply(config([destination("slow", sink.url, "rate_limit: 1/s\nmax_in_flight: 8")],
                            [route("orders", ["slow"])]))
    nc = await mesh.connect()
    progress: list[str] = []

    async def on_ack(msg: Msg) -> None:
        if msg.data == b"+WPI":
            progress.append(msg.subject)

    await nc.subscribe(f"$JS.ACK.{subjects.DELIVER_STREAM}.{subjects.delivery_consumer('slow')}.>", cb=on_ack)
    await mesh.start()
    ids = [await publish(mesh, {"n": i}) for i in range(8)]
    received = await sink.wait_for(8, timeout=15)
    assert sorted(r.headers["webhook-id"] for r in received) == sorted(ids)
    assert len(received) == 8  # each once
    assert progress, "no in-progress ack while events queued for the rate limit"
    assert len(progress) <= 8  # one beat per queued event at most, in 7 s with beats every 5 s
