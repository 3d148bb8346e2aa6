"""Spans leave the process over OTLP/HTTP (configured only by OTEL_* variables) as one trace."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared import tracing
from tests.support.mesh import Mesh, config_yaml
from tests.support.otlp import OtlpReceiver
from tests.support.polling import eventually
from tests.support.sink import RecordingSink


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


async def test_trace_is_exported_over_otlp(mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str,
                                           otlp: OtlpReceiver) -> None:
    mesh = mesh_factory()
    await mesh.apply(config_yaml(sink.url))
    await mesh.start()
    assert (await mesh.post("shop", {"order_id": "A-1", "total": 3})).status == 202
    [received] = await sink.wait_for(1)
    trace_id = received.headers["traceparent"].split("-")[1]

    def services_in_trace() -> set[str]:
        return {s.service for s in otlp.spans if s.trace_id == trace_id}

    expected = {"hookmesh-ingress", "hookmesh-validation", "hookmesh-routing", "hookmesh-delivery"}
    await eventually(lambda: services_in_trace() >= expected, timeout=10, what="spans of every service over OTLP")
    names = {s.name for s in otlp.spans if s.trace_id == trace_id}
    assert {"POST /v1/hooks/{source}", "send hookmesh.ingress.shop", "process hookmesh.ingress.shop",
            "process hookmesh.deliver.sink", "POST"} <= names
    client = next(s for s in otlp.spans if s.trace_id == trace_id and s.name == "POST")
    assert received.headers["traceparent"].split("-")[2] == client.span_id
    assert client.attributes["http.response.status_code"] == 204
