"""Data sovereignty at routing: a destination's allowed_regions refuses other regions, visibly."""

from __future__ import annotations

from shared import subjects
from tests.support.events import ROUTING_DELIVERY, config, destination, publish, route
from tests.support.mesh import Mesh
from tests.support.polling import eventually
from tests.support.sink import RecordingSink
from tests.support.spans import SpanRecorder


async def test_region_blocking_routes_only_to_allowed_destinations_and_dead_letters_the_rest(
        mesh_factory: type[Mesh], sink: RecordingSink, spans: SpanRecorder) -> None:
    eu_sink = RecordingSink()
    await eu_sink.start()
    try:
        mesh = mesh_factory(services=ROUTING_DELIVERY)
        await mesh.apply(config(
            [destination("eu-only", eu_sink.url, "allowed_regions: [eu]"), destination("anywhere", sink.url)],
            [route("both", ["eu-only", "anywhere"]),
             route("eu-route", ["eu-only"], "{type: [com.acme.invoice.sent]}")]))
        await mesh.start()

        eu = await publish(mesh, {"n": 1}, region="eu")
        us = await publish(mesh, {"n": 2}, region="us")
        none = await publish(mesh, {"n": 3})
        us_only_eu = await publish(mesh, {"n": 4}, type="com.acme.invoice.sent", region="us")

        [got_eu] = await eu_sink.wait_for(1)
        assert got_eu.headers["webhook-id"] == eu
        received = await sink.wait_for(3)
        assert sorted(r.headers["webhook-id"] for r in received) == sorted([eu, us, none])

        # The event nobody else took is dead-lettered with the reason; the others are not.
        async def letters() -> list:
            items = (await mesh.dlq("GET", "?reason=region_blocked")).json["items"]
            return items

        [letter] = await eventually(letters, what="a region_blocked dead letter")
        assert letter["event_id"] == us_only_eu
        assert letter["stage"] == "routing"
        assert letter["details"]["destinations"] == ["eu-only"] and letter["details"]["region"] == "us"

        metrics = (await mesh.request("GET", f"{mesh.url('routing')}/metrics")).body.decode()
        # Regions the configuration does not name are labelled "other", so labels stay bounded.
        for labels in ('destination="eu-only",region="other",route="both"', 'destination="eu-only",region="none",'
                       'route="both"', 'destination="eu-only",region="other",route="eu-route"'):
            assert f"hookmesh_region_blocked_total{{{labels}}} 1.0" in metrics

        blocked = [e for s in spans.spans() for e in s.events if e.name == "hookmesh.region_blocked"]
        assert len(blocked) == 3
        assert {e.attributes["hookmesh.destination"] for e in blocked if e.attributes} == {"eu-only"}
        await eventually(lambda: mesh.consumer_idle(subjects.EVENTS_STREAM, subjects.ROUTING_CONSUMER),
                         what="routing to go idle")
        assert len(eu_sink.received) == 1
    finally:
        await eu_sink.stop()
