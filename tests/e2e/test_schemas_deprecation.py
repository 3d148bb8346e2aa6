"""Deprecated versions are delivered with Deprecation/Sunset headers and counted; after the sunset their
events are dead-lettered with reason schema_sunset."""

from __future__ import annotations

from tests.support.mesh import Mesh, config_yaml
from tests.support.polling import eventually
from tests.support.sink import RecordingSink

ORDER = {"order_id": "A-1", "total": 5}


def deprecated(sink_url: str, sunset: str) -> str:
    return config_yaml(sink_url).replace("    version: 1\n", f"    version: 1\n    deprecated: true\n"
                                         f"    sunset: {sunset}\n")


async def test_deprecated_version_is_delivered_with_headers_and_counted(
        mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str) -> None:
    mesh = mesh_factory()
    await mesh.apply(deprecated(sink.url, "2099-12-31"))
    await mesh.start()
    for _ in range(2):
        assert (await mesh.post("shop", ORDER)).status == 202
    received = await sink.wait_for(2)
    for request in received:
        assert request.headers["Deprecation"] == "true"
        assert request.headers["Sunset"] == "Thu, 31 Dec 2099 00:00:00 GMT"
        assert request.event["deprecation"] == "true"
        assert request.event["sunset"] == "2099-12-31T00:00:00Z"
    metrics = (await mesh.request("GET", f"{mesh.url('validation')}/metrics")).body.decode()
    assert ('hookmesh_deprecated_events_total{source="shop",type="com.acme.order.created",version="1"} 2.0'
            in metrics)


async def test_after_the_sunset_events_are_dead_lettered(mesh_factory: type[Mesh], sink: RecordingSink,
                                                         sink_secret: str) -> None:
    mesh = mesh_factory()
    await mesh.apply(deprecated(sink.url, "2020-01-01"))
    await mesh.start()
    event_id = (await mesh.post("shop", ORDER)).json["id"]

    async def letters() -> list:
        return (await mesh.dlq("GET", "?reason=schema_sunset")).json["items"]

    [letter] = await eventually(letters, what="a schema_sunset dead letter")
    assert letter["event_id"] == event_id and letter["stage"] == "validation"
    assert "2020-01-01" in letter["error"]
    assert sink.received == []
