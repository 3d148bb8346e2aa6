"""A consumer service on hookmesh.events.> (the invoicing example over shared.consumer): each event id is
handled once across redeliveries, duplicates, failures, replicas and a consumer reset; the trace continues."""

from __future__ import annotations

import asyncio

import msgspec
from nats.aio.client import Client as NATS

from examples.invoicing.service import InvoicingService
from shared import consumer, subjects
from shared.consumer import EventConsumer
from shared.envelope import CloudEvent, encode, new_event, new_event_id
from tests.support.mesh import Mesh, config_yaml
from tests.support.natsserver import NatsServer
from tests.support.polling import eventually
from tests.support.sink import RecordingSink
from tests.support.spans import SpanRecorder, service_of

CREATED = "com.acme.order.created"


def order_event(total: float, *, event_id: str | None = None) -> CloudEvent:
    return new_event(id=event_id or new_event_id(), source="/hookmesh/sources/shop", type=CREATED,
                     data=msgspec.Raw(msgspec.json.encode({"order_id": f"A-{total:g}", "total": total})))


async def publish(nc: NATS, event: CloudEvent, msg_id: str) -> None:
    await nc.jetstream().publish(subjects.events(event.type), encode(event), stream=subjects.EVENTS_STREAM,
                                 headers={"Nats-Msg-Id": msg_id})


async def test_orders_posted_to_ingress_are_invoiced_in_their_trace(
        mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str, spans: SpanRecorder,
        nats_server: NatsServer) -> None:
    mesh = mesh_factory()
    await mesh.apply(config_yaml(sink.url))
    await mesh.start()
    nc = await consumer.connect(nats_server.url, "invoicing")
    invoicing = InvoicingService(nc, types=[CREATED])
    await invoicing.start()
    try:
        event_id = (await mesh.post("shop", {"order_id": "A-1001", "total": 100})).json["id"]
        await eventually(lambda: event_id in invoicing.invoices, what="the order to be invoiced")
        invoice = invoicing.invoices[event_id]
        assert (invoice.order_id, invoice.net, invoice.tax, invoice.gross) == ("A-1001", 100.0, 20.0, 120.0)
        [server_span] = spans.named("POST /v1/hooks/{source}")
        assert invoice.trace_id == f"{server_span.context.trace_id:032x}"
        [handled] = spans.named(f"handle {CREATED}")
        assert service_of(handled) == "hookmesh-consumer-invoicing"
        assert handled.context.trace_id == server_span.context.trace_id
    finally:
        await invoicing.stop(grace=1)
        await nc.close()


async def test_each_event_id_is_handled_once_across_duplicates_failures_and_a_reset(
        nats_server: NatsServer, mesh_factory: type[Mesh]) -> None:
    admin = await mesh_factory().connect()  # provisions the streams
    nc = await consumer.connect(nats_server.url, "invoicing")
    failures = {"left": 1}

    class Flaky(InvoicingService):
        async def on_order(self, event: CloudEvent) -> None:
            await super().on_order(event)
            if event.data_json()["total"] == 2 and failures["left"]:
                failures["left"] -= 1
                raise RuntimeError("the invoice database is down")  # after the side effect: it runs again

    invoicing = Flaky(nc, types=[CREATED])
    await invoicing.start()
    try:
        first, second = order_event(1), order_event(2)
        await publish(admin, first, "a")
        await publish(admin, first, "a-again")  # the same event stored twice (a replay, a retried producer)
        await publish(admin, second, "b")
        await eventually(lambda: len(invoicing.invoices) == 2 and invoicing.consumer.duplicates == 1,
                         what="two invoices and one duplicate")
        await eventually(lambda: invoicing.consumer.processed == 2, what="the failed one to be handled again")
        assert invoicing.calls == 3  # first once; second twice: it failed once and was redelivered
        assert failures["left"] == 0

        # A consumer reset (or a new replica reading from the start) redelivers everything: nothing runs again.
        await invoicing.stop(grace=1)
        await admin.jetstream().delete_consumer(subjects.EVENTS_STREAM, subjects.consumer_durable("invoicing"))
        invoicing.consumer = EventConsumer(nc, name="invoicing", types=[CREATED], handler=invoicing.on_order)
        await invoicing.start()
        await eventually(lambda: invoicing.consumer.duplicates == 3, what="all three redelivered as duplicates")
        assert invoicing.calls == 3
        assert await _idle(admin)
    finally:
        await invoicing.stop(grace=1)
        await nc.close()


async def test_replicas_sharing_the_durable_handle_each_event_once(
        nats_server: NatsServer, mesh_factory: type[Mesh]) -> None:
    admin = await mesh_factory().connect()
    handled: list[str] = []

    async def slow_handler(event: CloudEvent) -> None:
        handled.append(event.id)
        await asyncio.sleep(0.01)  # work that takes a moment, so copies overlap across the replicas

    connections = [await consumer.connect(nats_server.url, "invoicing") for _ in range(2)]
    replicas = [EventConsumer(c, name="invoicing", types=[CREATED], handler=slow_handler, max_in_flight=8,
                              busy_retry=0.1)
                for c in connections]
    for replica in replicas:
        await replica.start()
    try:
        events = [order_event(i) for i in range(10)]
        for copy in range(3):
            for event in events:
                await publish(admin, event, f"{event.id}:{copy}")
        await eventually(lambda: _idle(admin), what="the durable to drain")
        assert sorted(handled) == sorted(e.id for e in events)
        assert sum(r.processed for r in replicas) == 10
    finally:
        for replica in replicas:
            await replica.stop(grace=1)
        for c in connections:
            await c.close()


async def _idle(nc: NATS) -> bool:
    info = await nc.jetstream().consumer_info(subjects.EVENTS_STREAM, subjects.consumer_durable("invoicing"))
    return info.num_pending == 0 and info.num_ack_pending == 0
