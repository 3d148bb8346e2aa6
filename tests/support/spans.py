"""Recording spans in memory, and reading them as trees."""

from __future__ import annotations

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import tracing


class SpanRecorder:
    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        tracing.reset_for_tests()
        tracing.install_processor(SimpleSpanProcessor(self.exporter))

    def close(self) -> None:
        tracing.reset_for_tests()

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def trace_of(self, span: ReadableSpan) -> list[ReadableSpan]:
        trace_id = span.context.trace_id
        return [s for s in self.spans() if s.context.trace_id == trace_id]

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name == name]


def service_of(span: ReadableSpan) -> str:
    return str(span.resource.attributes.get("service.name"))


def parent_of(span: ReadableSpan, spans: list[ReadableSpan]) -> ReadableSpan | None:
    if span.parent is None:
        return None
    return next((s for s in spans if s.context.span_id == span.parent.span_id), None)
