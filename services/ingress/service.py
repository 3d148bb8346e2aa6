"""ingress wiring: consumes HTTP, publishes `hookmesh.ingress.{source}` and answers after the ack."""

from __future__ import annotations

import logging
import time
from typing import Any

from aiohttp import web
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter, Histogram

from services.ingress.auth import Authenticator, build_authenticator
from services.ingress.dedup import dedup_msg_id, dedup_value
from services.ingress.handler import build_event, check_content_type, needs_decoded, parse_body
from shared import subjects, tracing
from shared.envelope import decode
from shared.errors import BodyTooLarge, ConfigError, NotFound, RequestError, Unavailable
from shared.metrics import LATENCY_BUCKETS
from shared.problems import from_error, json_response
from shared.servicehost import ServiceContext

log = logging.getLogger("hookmesh.ingress")


class IngressService:
    name = "ingress"

    def __init__(self) -> None:
        self.ctx: ServiceContext | None = None
        self.authenticators: dict[str, Authenticator] = {}
        self.misconfigured: dict[str, str] = {}

    def http_routes(self) -> list[web.RouteDef]:
        return [web.post("/v1/hooks/{source}", self.receive)]

    def pull_consumers(self) -> list[Any]:
        return []

    async def start(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.requests = Counter("hookmesh_ingress_requests_total", "Webhook requests answered, by source and "
                                "status", ["source", "status"], registry=ctx.registry)
        self.latency = Histogram("hookmesh_ingress_seconds", "Time from request to answer, by source",
                                 ["source"], buckets=LATENCY_BUCKETS, registry=ctx.registry)
        self.duplicates = Counter("hookmesh_ingress_duplicates_total", "Requests answered from the dedup key, "
                                  "publishing nothing", ["source"], registry=ctx.registry)
        for name in ctx.config.snapshot.sources:
            self._load_source(name)
        missing = {n: e for n, e in self.misconfigured.items()}
        if missing:
            raise ConfigError("; ".join(f"source {n}: {e}" for n, e in missing.items()))
        ctx.config.on_change(lambda kind, name: self._load_source(name) if kind == "sources" else None)

    def _load_source(self, name: str) -> None:
        assert self.ctx is not None
        source = self.ctx.config.snapshot.sources.get(name)
        self.authenticators.pop(name, None)
        self.misconfigured.pop(name, None)
        if source is None:
            return
        try:
            self.authenticators[name] = build_authenticator(source.auth, where=f"sources.{name}.auth")
        except ConfigError as exc:
            self.misconfigured[name] = str(exc)
            log.error("source %s cannot authenticate requests: %s", name, exc)

    async def stop(self, grace: float) -> None:
        return None

    def readiness(self) -> dict[str, Any]:
        return {"misconfigured_sources": sorted(self.misconfigured)} if self.misconfigured else {}

    async def receive(self, request: web.Request) -> web.StreamResponse:
        assert self.ctx is not None
        source_name = request.match_info["source"]
        known = source_name in self.ctx.config.snapshot.sources
        label = source_name if known else "_unknown"
        started = time.perf_counter()
        with self.ctx.tracer.start_as_current_span(
            "POST /v1/hooks/{source}", context=tracing.extract(request.headers), kind=SpanKind.SERVER,
            attributes={"http.request.method": "POST", "url.path": request.path, "url.scheme": request.scheme,
                        "http.route": "/v1/hooks/{source}", "hookmesh.source": source_name,
                        "user_agent.original": request.headers.get("User-Agent", ""),
                        "server.port": self.ctx.settings.ports["ingress"]},
        ) as span:
            try:
                response = await self._accept(request, source_name)
            except RequestError as exc:
                response = from_error(exc, request.path)
                if exc.status >= 500:
                    span.set_status(Status(StatusCode.ERROR, exc.detail))
                log.info("refused a webhook: %s", exc.detail,
                         extra={"source": source_name, "status": exc.status})
            span.set_attribute("http.response.status_code", response.status)
        self.requests.labels(label, str(response.status)).inc()
        self.latency.labels(label).observe(time.perf_counter() - started)
        return response

    async def _accept(self, request: web.Request, source_name: str) -> web.Response:
        assert self.ctx is not None
        source = self.ctx.config.snapshot.sources.get(source_name)
        if source is None:
            raise NotFound(f"no source named {source_name!r}; list them with `hookmesh get sources`")
        if source_name in self.misconfigured:
            raise Unavailable("this source is misconfigured on the server; its operator has been told in the "
                              "ingress log", headers={"Retry-After": "60"})
        body = await _read_body(request, self.ctx.settings.max_body_bytes)
        self.authenticators[source_name].check(request.headers, body)
        check_content_type(request.headers.get("Content-Type", ""))
        data = parse_body(body, needs_decoded(source))
        event = build_event(source, body, data, request.headers)
        span = trace.get_current_span()
        span.set_attribute("hookmesh.event.id", event.id)
        span.set_attribute("hookmesh.event.type", event.type)
        key = dedup_value(source.dedup_key, request.headers, data)
        msg_id = dedup_msg_id(source_name, key) if key else event.id
        ack = await self.ctx.publisher.publish_event(subjects.ingress(source_name), event, msg_id=msg_id,
                                                     stream=subjects.INGRESS_STREAM)
        if ack.duplicate:
            first_id = await self._first_event_id(ack.seq) or event.id
            self.duplicates.labels(source_name).inc()
            return json_response({"id": first_id, "duplicate": True}, status=202)
        log.debug("accepted", extra={"event_id": event.id, "source": source_name})
        return json_response({"id": event.id}, status=202)

    async def _first_event_id(self, seq: int) -> str | None:
        """JetStream answers a duplicate with the first message's sequence; read that event's id."""
        assert self.ctx is not None
        try:
            stored = await self.ctx.js.get_msg(subjects.INGRESS_STREAM, seq)
            return decode(stored.data or b"").id
        except Exception as exc:
            log.warning("could not read the first event of a duplicate (seq %s): %s", seq, exc)
            return None


async def _read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge(f"the body is {request.content_length} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
