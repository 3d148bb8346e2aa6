"""ingress wiring: consumes HTTP, publishes `hookmesh.ingress.{source}` and answers after the ack."""

from __future__ import annotations

import logging
import time
from typing import Any

from aiohttp import web
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter, Histogram

from services.ingress.adapters import adapt
from services.ingress.auth import Authenticator, build_authenticator
from services.ingress.dedup import DedupStore, dedup_msg_id, dedup_value
from services.ingress.dryrun import DryRunner
from services.ingress.handler import build_adapted_event
from services.ingress.ratelimit import TokenBucket, retry_after
from services.ingress.schemas_api import SchemasApi
from services.ingress.transform import apply_transform
from shared import subjects, tracing
from shared.config import Source
from shared.envelope import CloudEvent, decode
from shared.errors import BodyTooLarge, ConfigError, Forbidden, NotFound, RequestError, TooManyRequests, Unavailable
from shared.metrics import LATENCY_BUCKETS
from shared.problems import from_error, json_response
from shared.servicehost import ServiceContext

log = logging.getLogger("hookmesh.ingress")


class IngressService:
    name = "ingress"

    def __init__(self) -> None:
        self.ctx: ServiceContext | None = None
        self.authenticators: dict[str, Authenticator] = {}
        self.limiters: dict[str, TokenBucket] = {}
        self.misconfigured: dict[str, str] = {}
        self.schemas = SchemasApi(self)

    def http_routes(self) -> list[web.RouteDef]:
        return [web.post("/v1/hooks/{source}", self.receive), *self.schemas.routes()]

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
        self.forbidden = Counter("hookmesh_ingress_forbidden_types_total", "Events refused because their type "
                                 "is not in the source's allowed_types", ["source"], registry=ctx.registry)
        self.tests = Counter("hookmesh_ingress_test_requests_total", "Builder test requests answered without "
                             "publishing", ["source"], registry=ctx.registry)
        self.dedup = DedupStore(ctx.js)
        await self.dedup.start()
        self.dry_runner = DryRunner(ctx.nc)
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
        self.limiters.pop(name, None)
        self.misconfigured.pop(name, None)
        if source is None:
            return
        if source.rate_limit:
            self.limiters[name] = TokenBucket(float(source.rate_limit))
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
                if isinstance(exc, Forbidden) and known:
                    self.forbidden.labels(source_name).inc()
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
        source: Source | None = self.ctx.config.snapshot.sources.get(source_name)
        if source is None:
            raise NotFound(f"no source named {source_name!r}; list them with `hookmesh get sources`")
        if source_name in self.misconfigured:
            raise Unavailable("this source is misconfigured on the server; its operator has been told in the "
                              "ingress log", headers={"Retry-After": "60"})
        body = await _read_body(request, source.max_body_bytes or self.ctx.settings.max_body_bytes)
        self.authenticators[source_name].check(request.headers, body, request.query)
        limiter = self.limiters.get(source_name)
        if limiter is not None:
            wait = limiter.take()
            if wait:
                raise TooManyRequests(f"source {source_name} is over its rate limit of {source.rate_limit:g}/s",
                                      headers={"Retry-After": retry_after(wait)})
        adapted = adapt(source.kind, request.headers, body, batch=source.batch)
        keep_raw = not adapted.batch and source.transform is None and _is_json(request)
        events: list[tuple[CloudEvent, str | None]] = []
        for index, payload in enumerate(adapted.payloads):
            data = apply_transform(source.transform, payload)
            event = build_adapted_event(source, payload, data, body if keep_raw else None, request.headers,
                                        adapted.source_event_id)
            key = dedup_value(source.dedup_key, request.headers, payload) or adapted.source_event_id
            if key and adapted.batch and not (source.dedup_key or "").startswith("/"):
                key = f"{key}#{index}"
            events.append((event, key))
        span = trace.get_current_span()
        span.set_attribute("hookmesh.event.id", events[0][0].id if events else "")
        if adapted.is_test:
            self.tests.labels(source_name).inc()
            return json_response({"test": True, "published": False, "events": len(events),
                                  "detail": "a builder test request: authenticated and adapted, nothing published"})
        if request.query.get("dry_run", "").lower() in ("1", "true", "yes"):
            return await self.dry_runner.answer([e for e, _ in events], batch=adapted.batch)
        results = [await self._publish(source, event, key) for event, key in events]
        if adapted.batch:
            return json_response({"ids": [r[0] for r in results],
                                  "duplicates": sum(1 for r in results if r[1])}, status=202)
        event_id, duplicate = results[0]
        span.set_attribute("hookmesh.event.type", events[0][0].type)
        return json_response({"id": event_id, "duplicate": True} if duplicate else {"id": event_id}, status=202)

    async def _publish(self, source: Source, event: CloudEvent, key: str | None) -> tuple[str, bool]:
        """Publish one event, or answer the first event's id for a key seen inside the dedup window."""
        assert self.ctx is not None
        msg_id = event.id
        revision = 0
        if key:
            first, revision = await self.dedup.claim(source.name, key, event.id, source.dedup_window)
            if first is not None:
                self.duplicates.labels(source.name).inc()
                return first, True
            # Unique per claim: a retried publish of this claim is deduplicated by JetStream, while a key
            # claimed again after its window is published anew.
            msg_id = f"{dedup_msg_id(source.name, key)}:{revision}"
        try:
            ack = await self.ctx.publisher.publish_event(subjects.ingress(source.name), event, msg_id=msg_id,
                                                         stream=subjects.INGRESS_STREAM)
        except Unavailable:
            if key:
                await self.dedup.release(source.name, key, revision)
            raise
        if ack.duplicate:
            first_id = await self._first_event_id(ack.seq) or event.id
            self.duplicates.labels(source.name).inc()
            return first_id, True
        log.debug("accepted", extra={"event_id": event.id, "source": source.name})
        return event.id, False

    async def _first_event_id(self, seq: int) -> str | None:
        """JetStream answers a duplicate with the first message's sequence; read that event's id."""
        assert self.ctx is not None
        try:
            stored = await self.ctx.js.get_msg(subjects.INGRESS_STREAM, seq)
            return decode(stored.data or b"").id
        except Exception as exc:
            log.warning("could not read the first event of a duplicate (seq %s): %s", seq, exc)
            return None


def _is_json(request: web.Request) -> bool:
    mime = request.headers.get("Content-Type", "").partition(";")[0].strip().lower()
    return mime == "application/json" or (mime.startswith("application/") and mime.endswith("+json"))


async def _read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None:
        if request.content_length > limit:
            raise BodyTooLarge(f"the body is {request.content_length} bytes; the limit is {limit}")
        # The parser stops at Content-Length, so one read is bounded by the check above.
        return await request.read()
    chunks: list[bytes] = []  # chunked transfer: count as it arrives
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


