"""OpenTelemetry set-up from the standard OTEL_* variables, and trace context over NATS headers.

Each service gets its own TracerProvider (so `service.name` is `hookmesh-<service>` even when all
five run in one process). With no exporter configured, spans are not recorded at all: trace ids
are still created and propagated (a `traceparent` reaches every destination), at next to no cost.

Exporter choice follows the spec's variables: OTEL_TRACES_EXPORTER (otlp | console | none; default
otlp when an OTLP endpoint is set, else none), OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT and _PROTOCOL
(http/protobuf or grpc), OTEL_TRACES_SAMPLER[_ARG], OTEL_RESOURCE_ATTRIBUTES.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()
_providers: dict[str, TracerProvider] = {}
_test_processors: list[SpanProcessor] = []


def _exporter_from_env() -> SpanExporter | None:
    endpoint_set = bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
    choice = os.environ.get("OTEL_TRACES_EXPORTER", "otlp" if endpoint_set else "none").strip().lower()
    choice = choice.split(",")[0].strip()
    if choice in ("", "none"):
        return None
    if choice == "console":
        return ConsoleSpanExporter()
    if choice != "otlp":
        raise SystemExit(f"OTEL_TRACES_EXPORTER={choice!r} is not supported; use otlp, console or none")
    protocol = (os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf")
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
        return GrpcExporter()
    if protocol in ("http/protobuf", "http"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
        return HttpExporter()
    raise SystemExit(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported; use http/protobuf or grpc")


def provider_for(service: str) -> TracerProvider:
    """The TracerProvider of one service, created on first use from the environment."""
    provider = _providers.get(service)
    if provider is not None:
        return provider
    exporter = _exporter_from_env()
    resource = Resource.create().merge(Resource({"service.name": f"hookmesh-{service}",
                                                 "service.namespace": "hookmesh"}))
    recording = exporter is not None or bool(_test_processors)
    provider = TracerProvider(resource=resource, sampler=None if recording else ALWAYS_OFF)
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    for processor in _test_processors:
        provider.add_span_processor(processor)
    _providers[service] = provider
    return provider


def tracer_for(service: str) -> Tracer:
    return provider_for(service).get_tracer("hookmesh", schema_url="https://opentelemetry.io/schemas/1.26.0")


def install_processor(processor: SpanProcessor) -> None:
    """Test seam: record every span of every service created from now on (and drop cached providers)."""
    _test_processors.append(processor)
    _providers.clear()


def reset_for_tests() -> None:
    _test_processors.clear()
    _providers.clear()


def shutdown() -> None:
    """Flush and close every provider (at the end of a graceful drain)."""
    for provider in list(_providers.values()):
        provider.shutdown()
    _providers.clear()


def inject(headers: MutableMapping[str, str]) -> None:
    _propagator.inject(headers)


def extract(headers: Mapping[str, str] | None) -> otel_context.Context:
    return _propagator.extract(headers or {})


def current_ids() -> tuple[str, str]:
    """(trace_id, span_id) of the current span as hex, or empty strings."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return "", ""
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"


def traceparent_of(span: trace.Span) -> tuple[str | None, str | None]:
    """The W3C headers of `span`, as the propagator writes them (formatted here: this runs per publish)."""
    ctx = span.get_span_context()
    if not ctx.is_valid:
        return None, None
    return (f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}",
            ctx.trace_state.to_header() if ctx.trace_state else None)


def messaging_attributes(subject: str, operation: str, *, message_id: str | None = None,
                         body_size: int | None = None, consumer: str | None = None) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "messaging.system": "nats",
        "messaging.operation.type": operation,
        "messaging.operation.name": operation,
        "messaging.destination.name": subject,
    }
    if message_id:
        attributes["messaging.message.id"] = message_id
    if body_size is not None:
        attributes["messaging.message.body.size"] = body_size
    if consumer:
        attributes["messaging.consumer.group.name"] = consumer
    return attributes


def _unsampled_child(parent: trace.SpanContext) -> trace.Span:
    """A non-recording child of an unsampled context: same trace id, a fresh span id, no SDK work.

    Parent-based sampling would drop the child anyway; skipping the SDK for it removes most of the
    cost of tracing from the hot path, while the trace context still flows to every hop.
    """
    return trace.NonRecordingSpan(trace.SpanContext(parent.trace_id, _random_span_id(), False, parent.trace_flags,
                                                    parent.trace_state))


def _random_span_id() -> int:
    # As the SDK's RandomIdGenerator: span ids need uniqueness, not secrecy (os.urandom is a syscall).
    return random.getrandbits(64) or 1


@contextmanager
def _use(span: trace.Span, ctx: otel_context.Context | None = None) -> Iterator[trace.Span]:
    token = otel_context.attach(trace.set_span_in_context(span, ctx))
    try:
        yield span
    finally:
        otel_context.detach(token)


def _sampled_out(parent: trace.SpanContext) -> bool:
    return parent.is_valid and not parent.trace_flags.sampled


@contextmanager
def consumer_span(tracer: Tracer, subject: str, headers: Mapping[str, str] | None, *,
                  consumer: str, body_size: int) -> Iterator[trace.Span]:
    """`process <subject>` CONSUMER span, a child of the context the producer put in the headers."""
    parent = extract(headers)
    parent_span = trace.get_current_span(parent).get_span_context()
    if _sampled_out(parent_span):
        with _use(_unsampled_child(parent_span), parent) as span:
            yield span
        return
    with tracer.start_as_current_span(
        f"process {subject}", context=parent, kind=SpanKind.CONSUMER,
        attributes=messaging_attributes(subject, "process", body_size=body_size, consumer=consumer),
    ) as span:
        yield span


@contextmanager
def span(tracer: Tracer, name: str, *, kind: SpanKind = SpanKind.INTERNAL,
         attributes: dict[str, Any] | None = None, links: list[trace.Link] | None = None) -> Iterator[trace.Span]:
    """A span in the current context; under an unsampled parent, a free non-recording child (unless it
    links to a sampled span, which must then be recorded to keep the link)."""
    current = trace.get_current_span().get_span_context()
    if _sampled_out(current) and not any(link.context.trace_flags.sampled for link in links or ()):
        with _use(_unsampled_child(current)) as child:
            yield child
        return
    with tracer.start_as_current_span(name, kind=kind, attributes=attributes, links=links) as recording:
        yield recording


def link_to(traceparent: str | None, tracestate: str | None = None) -> trace.Link | None:
    """A span link to the context in a traceparent (for a request that carries several events)."""
    if not traceparent:
        return None
    carrier = {"traceparent": traceparent, **({"tracestate": tracestate} if tracestate else {})}
    context = trace.get_current_span(extract(carrier)).get_span_context()
    return trace.Link(context) if context.is_valid else None


@contextmanager
def producer_span(tracer: Tracer, subject: str, *, message_id: str | None,
                  body_size: int | None = None) -> Iterator[trace.Span]:
    current = trace.get_current_span().get_span_context()
    if _sampled_out(current):
        with _use(_unsampled_child(current)) as span:
            yield span
        return
    with tracer.start_as_current_span(
        f"send {subject}", kind=SpanKind.PRODUCER,
        attributes=messaging_attributes(subject, "send", message_id=message_id, body_size=body_size),
    ) as span:
        yield span
