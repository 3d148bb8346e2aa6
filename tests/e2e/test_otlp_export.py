"""Spans leave the process over OTLP/HTTP (configured only by OTEL_* variables) as one trace."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.demosink.app import build_app
from shared import tracing
from shared.embedded_nats import free_port
from tests.support.http import serve
from tests.support.mesh import Mesh, config_yaml
from tests.support.otlp import OtlpReceiver
from tests.support.polling import eventually

SERVER = 2  # SPAN_KIND_SERVER in OTLP


@pytest.fixture
async def otlp(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    await receiver.start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    tracing.reset_for_tests()
    yield receiver
    tracing.shutdown()
    await receiver.stop()


async def test_trace_is_exported_over_otlp(mesh_factory: type[Mesh], sink_secret: str,
                                           otlp: OtlpReceiver) -> None:
    """ingress -> validation -> routing -> delivery -> the consumer's own HTTP server span, over OTLP."""
    received: list[dict] = []
    port = free_port()
    consumer = await serve(build_app(sink_secret, on_event=received.append), port)
    try:
        mesh = mesh_factory()
        await mesh.apply(config_yaml(f"http://127.0.0.1:{port}/hooks"))
        await mesh.start()
        assert (await mesh.post("shop", {"order_id": "A-1", "total": 3})).status == 202
        await eventually(lambda: received, what="the consumer to receive the event")
        trace_id = received[0]["traceparent"].split("-")[1]

        def in_trace() -> list:
            return [s for s in otlp.spans if s.trace_id == trace_id]

        expected = {"hookmesh-ingress", "hookmesh-validation", "hookmesh-routing", "hookmesh-delivery",
                    "hookmesh-demo-sink"}
        await eventually(lambda: {s.service for s in in_trace()} >= expected, timeout=10,
                         what="spans of every service and the consumer over OTLP")
        spans = in_trace()
        by_id = {s.span_id: s for s in spans}
        server = next(s for s in spans if s.service == "hookmesh-demo-sink")
        assert server.name == "POST /hooks" and server.kind == SERVER
        chain = []
        node = server
        while node is not None:
            chain.append((node.service, node.name))
            node = by_id.get(node.parent_span_id)
        assert list(reversed(chain)) == [
            ("hookmesh-ingress", "POST /v1/hooks/{source}"),
            ("hookmesh-ingress", "send hookmesh.ingress.shop"),
            ("hookmesh-validation", "process hookmesh.ingress.shop"),
            ("hookmesh-validation", "send hookmesh.events.com.acme.order.created"),
            ("hookmesh-routing", "process hookmesh.events.com.acme.order.created"),
            ("hookmesh-routing", "send hookmesh.deliver.sink"),
            ("hookmesh-delivery", "process hookmesh.deliver.sink"),
            ("hookmesh-delivery", "POST"),
            ("hookmesh-demo-sink", "POST /hooks"),
        ]
        client = by_id[server.parent_span_id]
        assert client.attributes["http.response.status_code"] == 204
    finally:
        await consumer.cleanup()
