"""Batch channel: one application/cloudevents-batch+json request per max_events or interval, and an
open batch survives a restart (its messages are acknowledged only after the batch request succeeded)."""

from __future__ import annotations

import time

from opentelemetry.trace import SpanKind

from shared import subjects
from tests.support.events import ROUTING_DELIVERY, config, destination, publish, route
from tests.support.mesh import Mesh
from tests.support.polling import eventually
from tests.support.sink import RecordingSink
from tests.support.spans import SpanRecorder


def _batch_config(url: str, batch: str) -> str:
    return config([destination("warehouse", url)], [route("nightly", ["warehouse"], extra=f"channel: batch\n{batch}")])


async def test_batch_flushes_at_max_events_then_at_the_interval(mesh_factory: type[Mesh], sink: RecordingSink) -> None:
    mesh = mesh_factory(services=ROUTING_DELIVERY)
    await mesh.apply(_batch_config(sink.url, "batch: {interval: 1s, max_events: 4}"))
    await mesh.start()
    ids = [await publish(mesh, {"n": i}) for i in range(6)]
    first_published = time.monotonic()
    full, partial = await sink.wait_for(2, timeout=5)
    assert full.headers["Content-Type"] == "application/cloudevents-batch+json"
    assert full.headers["webhook-id"].startswith("batch_")
    assert [e["id"] for e in full.event] == ids[:4]  # in stream order, each event whole
    assert full.event[0]["data"] == {"n": 0}
    assert full.at - first_published < 0.9  # full: sent without waiting for the interval
    assert [e["id"] for e in partial.event] == ids[4:]
    assert partial.at - full.at >= 0.8  # the rest went when the interval was up
    assert len(sink.received) == 2


async def test_open_batch_survives_a_restart(mesh_factory: type[Mesh], sink: RecordingSink) -> None:
    first = mesh_factory(services=ROUTING_DELIVERY)
    await first.apply(_batch_config(sink.url, "batch: {interval: 30s, max_events: 100}"))
    await first.start()
    ids = [await publish(first, {"n": i}) for i in range(3)]

    async def held() -> bool:
        nc = await first.connect()
        info = await nc.jetstream().consumer_info(subjects.DELIVER_STREAM,
                                                  subjects.delivery_batch_consumer("warehouse"))
        return info.num_ack_pending == 3

    await eventually(held, what="the three events held in the open batch")
    await first.stop()  # the batch was not sent: its messages go back to the stream unacknowledged
    assert sink.received == []

    second = mesh_factory(services=ROUTING_DELIVERY)
    await second.apply(_batch_config(sink.url, "batch: {interval: 200ms, max_events: 100}"))
    await second.start()
    [batch] = await sink.wait_for(1, timeout=10)
    assert sorted(e["id"] for e in batch.event) == sorted(ids)
    await eventually(lambda: second.consumer_idle(subjects.DELIVER_STREAM,
                                                  subjects.delivery_batch_consumer("warehouse")),
                     what="the batch consumer to have acknowledged everything")
    assert len(sink.received) == 1


async def test_a_batch_request_links_the_span_of_every_event_in_it(
        mesh_factory: type[Mesh], sink: RecordingSink, spans: SpanRecorder) -> None:
    mesh = mesh_factory(services=ROUTING_DELIVERY)
    await mesh.apply(_batch_config(sink.url, "batch: {interval: 5s, max_events: 3}"))
    await mesh.start()
    for i in range(3):
        await publish(mesh, {"n": i})
    [batch] = await sink.wait_for(1, timeout=5)
    traces = {e["traceparent"].split("-")[1] for e in batch.event}
    [client] = [s for s in spans.spans() if s.kind == SpanKind.CLIENT]
    assert client.attributes is not None and client.attributes["hookmesh.batch.events"] == 3
    assert {f"{link.context.trace_id:032x}" for link in client.links} == traces
    assert len(client.links) == 3
