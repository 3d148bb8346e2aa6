"""410 Gone disables a destination (events kept, state reported, an operational event published) and
`hookmesh destinations pause|resume` holds and releases a destination's events."""

from __future__ import annotations

import msgspec

from shared import subjects
from tests.support.cli import hookmesh
from tests.support.events import ROUTING_DELIVERY, config, destination, publish, route
from tests.support.mesh import Mesh
from tests.support.polling import eventually
from tests.support.sink import RecordingSink


async def _pending_is(mesh: Mesh, name: str, count: int) -> bool:
    """Every message of the destination's consumer is unacknowledged: waiting, or held and not sent."""
    nc = await mesh.connect()
    info = await nc.jetstream().consumer_info(subjects.DELIVER_STREAM, subjects.delivery_consumer(name))
    return info.num_pending + info.num_ack_pending == count and info.ack_floor.stream_seq == 0


async def test_gone_disables_keeps_events_announces_once_and_resume_delivers_them(
        mesh_factory: type[Mesh], sink: RecordingSink) -> None:
    oncall = RecordingSink()
    await oncall.start()
    try:
        sink.default_status = 410
        mesh = mesh_factory(services=ROUTING_DELIVERY)
        await mesh.apply(config(
            [destination("crm", sink.url, "max_in_flight: 1"), destination("oncall", oncall.url)],
            [route("orders", ["crm"]), route("ops", ["oncall"], "{type: [com.hookmesh.destination.disabled]}")]))
        await mesh.start()
        first = await publish(mesh, {"n": 0})
        await sink.wait_for(1, successes=False)

        async def disabled() -> bool:
            ready = (await mesh.request("GET", f"{mesh.url('delivery')}/readyz")).json
            return ready["checks"]["destinations"]["crm"]["disabled"]

        await eventually(disabled, what="crm reported disabled in /readyz")
        metrics = (await mesh.request("GET", f"{mesh.url('delivery')}/metrics")).body.decode()
        assert 'hookmesh_destination_disabled{destination="crm"} 1.0' in metrics

        # The operational event is a CloudEvent like any other: routed to on-call, about the event that saw 410.
        [announced] = await oncall.wait_for(1)
        op = announced.event
        assert op["type"] == "com.hookmesh.destination.disabled" and op["source"] == "/hookmesh/system"
        assert op["data"]["destination"] == "crm" and op["data"]["status"] == 410 and op["data"]["event_id"] == first

        later = [await publish(mesh, {"n": i}) for i in range(1, 4)]
        await eventually(lambda: _pending_is(mesh, "crm", 4), what="four events unacknowledged for crm")
        listed = await hookmesh("get", "destinations", env={"NATS_URL": mesh.settings.nats_url})
        assert "state=disabled (410 Gone)" in listed.stdout, listed.stdout + listed.stderr
        assert len(sink.received) == 1  # nothing more was attempted, nothing was dropped
        assert (await mesh.dlq("GET")).json["items"] == []

        sink.default_status = 204
        resumed = await hookmesh("destinations", "resume", "crm", env={"NATS_URL": mesh.settings.nats_url})
        assert resumed.code == 0 and "was disabled" in resumed.stdout, resumed.stderr
        received = await sink.wait_for(4)
        assert sorted(r.headers["webhook-id"] for r in received) == sorted([first, *later])
        assert len(oncall.received) == 1
    finally:
        await oncall.stop()


async def test_pause_by_hand_holds_events_in_the_stream_until_resume(
        mesh_factory: type[Mesh], sink: RecordingSink) -> None:
    mesh = mesh_factory(services=ROUTING_DELIVERY)
    await mesh.apply(config([destination("crm", sink.url)], [route("orders", ["crm"])]))
    await mesh.start()
    env = {"NATS_URL": mesh.settings.nats_url, "HOOKMESH_ACTOR": "alice@laptop"}
    paused = await hookmesh("destinations", "pause", "crm", "--reason", "maintenance", env=env)
    assert paused.code == 0, paused.stderr

    async def held() -> bool:
        ready = (await mesh.request("GET", f"{mesh.url('delivery')}/readyz")).json
        return ready["checks"]["destinations"]["crm"]["held"] == "paused"

    await eventually(held, what="delivery to see the pause")
    ids = [await publish(mesh, {"n": i}) for i in range(3)]

    # Waiting in the stream, or held unacknowledged by a pull that was already outstanding: never sent.
    await eventually(lambda: _pending_is(mesh, "crm", 3), what="three events unacknowledged")
    assert sink.received == []
    listed = await hookmesh("get", "destinations", env=env)
    assert "state=paused (maintenance)" in listed.stdout
    assert (await hookmesh("destinations", "pause", "nope", env=env)).code == 1

    nc = await mesh.connect()
    kv = await nc.jetstream().key_value(subjects.DESTINATION_STATE_BUCKET)
    record = msgspec.json.decode((await kv.get("crm.paused")).value)
    assert record["by"] == "alice@laptop" and record["reason"] == "maintenance"

    assert (await hookmesh("destinations", "resume", "crm", env=env)).code == 0
    received = await sink.wait_for(3)
    assert sorted(r.headers["webhook-id"] for r in received) == sorted(ids)
