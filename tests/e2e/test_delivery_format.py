"""Destination format (binary mode: ce-* headers, data as body), extra headers, and retry.max_age."""

from __future__ import annotations

from tests.support.events import ROUTING_DELIVERY, config, destination, publish, route
from tests.support.mesh import Mesh
from tests.support.polling import eventually
from tests.support.sink import RecordingSink


async def test_binary_mode_sends_attributes_as_headers_and_data_as_body(
        mesh_factory: type[Mesh], sink: RecordingSink) -> None:
    mesh = mesh_factory(services=ROUTING_DELIVERY)
    await mesh.apply(config([destination("bin", sink.url, "format: binary\nheaders: {X-Team: billing}")],
                            [route("orders", ["bin"])]))
    await mesh.start()
    event_id = await publish(mesh, {"total": 9.5, "name": "Zoë"}, region="eu", partitionkey="cust-7")
    [got] = await sink.wait_for(1)
    assert got.event == {"total": 9.5, "name": "Zoë"}  # the body is the data alone
    h = got.headers
    assert h["Content-Type"] == "application/json"
    assert h["ce-id"] == h["webhook-id"] == event_id
    assert h["ce-specversion"] == "1.0" and h["ce-type"] == "com.acme.order.created"
    assert h["ce-source"] == "/hookmesh/sources/shop" and h["ce-region"] == "eu" and h["ce-partitionkey"] == "cust-7"
    assert h["X-Team"] == "billing" and "traceparent" in h


async def test_max_age_stops_retrying(mesh_factory: type[Mesh], sink: RecordingSink) -> None:
    sink.default_status = 503
    mesh = mesh_factory(services=ROUTING_DELIVERY)
    await mesh.apply(config([destination("aging", sink.url, "breaker: {enabled: false}",
                                         retry="{max_attempts: 100, initial: 200ms, max: 200ms, max_age: 1s}")],
                            [route("orders", ["aging"])]))
    await mesh.start()
    await publish(mesh, {"n": 1})

    async def expired() -> list:
        return (await mesh.dlq("GET", "?reason=delivery_expired")).json["items"]

    [letter] = await eventually(expired, what="a delivery_expired dead letter")
    assert letter["details"]["max_age_s"] == 1.0
    assert 2 <= letter["attempts"] < 100  # the age ended it, not max_attempts
    assert len(sink.received) == letter["attempts"]
