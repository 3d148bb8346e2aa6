"""One HTTP POST of a CloudEvent to a destination, signed per Standard Webhooks, traced as a CLIENT span."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import standardwebhooks
from aiolimiter import AsyncLimiter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, Tracer
from yarl import URL

from services.delivery.backoff import parse_retry_after
from services.delivery.ssrf import GuardedResolver, check_literal_host
from shared import tracing
from shared.config import Destination
from shared.deprecation import delivery_headers
from shared.envelope import CONTENT_TYPE
from shared.errors import PermanentDelivery, RetryableDelivery

EXCERPT_BYTES = 1024
USER_AGENT = "hookmesh/0.1 (+https://github.com/hookmesh)"


@dataclass
class Result:
    status: int | None
    latency_ms: float
    excerpt: str = ""


class Sender:
    """Holds one keep-alive session per destination; `send` raises a DeliveryFailure on failure."""

    def __init__(self, destination: Destination, secret: str | None, tracer: Tracer, *,
                 on_rate_wait: Callable[[float], None] | None = None) -> None:
        self.destination = destination
        self.on_rate_wait = on_rate_wait
        self.url = URL(destination.url)
        self.url_full = str(self.url.with_query(None))
        self.webhook = standardwebhooks.Webhook(secret) if secret else None
        self.tracer = tracer
        connector = aiohttp.TCPConnector(
            limit=max(destination.max_in_flight, 1), ttl_dns_cache=30,
            resolver=None if destination.allow_private_network else GuardedResolver())
        self.session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=destination.timeout),
            headers={"User-Agent": USER_AGENT}, auto_decompress=False)
        self.limiter = AsyncLimiter(destination.rate_limit, 1.0) if destination.rate_limit else None

    async def close(self) -> None:
        await self.session.close()

    def headers(self, event_id: str, body: bytes, content_headers: dict[str, str] | None = None) -> dict[str, str]:
        now = datetime.now(UTC)
        headers = dict(self.destination.headers)
        headers.update(content_headers or {"Content-Type": CONTENT_TYPE})
        headers.update({"webhook-id": event_id, "webhook-timestamp": str(int(now.timestamp()))})
        if content_headers is None:  # structured mode: Deprecation/Sunset from the envelope's extensions
            headers.update(delivery_headers(body))
        if self.webhook is not None:
            headers["webhook-signature"] = self.webhook.sign(event_id, now, body.decode("utf-8", errors="replace"))
        return headers

    def guard(self) -> None:
        """Refuse before connecting: https_only, and literal IPs the SSRF guard forbids (names are checked by
        the resolver, on the very addresses the connection then uses)."""
        if self.destination.https_only and self.url.scheme != "https":
            raise PermanentDelivery(f"refused {self.url.with_query(None)}: the destination is https_only")
        if not self.destination.allow_private_network:
            check_literal_host(self.url.host or "")

    async def send(self, event_id: str, body: bytes, attempt: int, *,
                   content_headers: dict[str, str] | None = None, events: int = 1,
                   links: list[Link] | None = None) -> Result:
        """POST `body`; `content_headers` replace the structured-mode Content-Type (binary mode, batches);
        `links` tie a batch request's span to the span of every event in it."""
        self.guard()
        if self.limiter is not None:
            waited = time.perf_counter()
            await self.limiter.acquire()
            if self.on_rate_wait is not None:
                self.on_rate_wait(time.perf_counter() - waited)
        headers = self.headers(event_id, body, content_headers)
        with tracing.span(
            self.tracer, "POST", kind=SpanKind.CLIENT, links=links,
            attributes={"http.request.method": "POST", "url.full": self.url_full,
                        "server.address": self.url.host or "", "server.port": self.url.port or 0,
                        "http.request.resend_count": attempt - 1, "hookmesh.event.id": event_id,
                        "hookmesh.destination": self.destination.name, "hookmesh.attempt": attempt,
                        "hookmesh.batch.events": events},
        ) as span:
            tracing.inject(headers)
            started = time.perf_counter()
            try:
                async with self.session.post(self.url, data=body, headers=headers, allow_redirects=False) as resp:
                    excerpt = (await resp.content.read(EXCERPT_BYTES)).decode("utf-8", errors="replace")
                    status = resp.status
                    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            except PermanentDelivery as exc:
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                raise
            except aiohttp.InvalidURL as exc:  # for example a decimal IP such as 2130706433: never retried
                span.set_status(Status(StatusCode.ERROR, "invalid URL"))
                raise PermanentDelivery(f"refused {self.url.with_query(None)}: not a valid URL ({exc})") from None
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                latency = (time.perf_counter() - started) * 1000
                reason = (f"timeout: no response within {self.destination.timeout:g}s"
                          if isinstance(exc, asyncio.TimeoutError)
                          else f"{type(exc).__name__}: {exc}")
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(Status(StatusCode.ERROR, reason))
                failure = RetryableDelivery(reason if isinstance(exc, asyncio.TimeoutError)
                                            else f"connection failed: {reason}")
                failure.latency_ms = latency  # type: ignore[attr-defined]
                raise failure from None
            latency = (time.perf_counter() - started) * 1000
            span.set_attribute("http.response.status_code", status)
            if 200 <= status < 300:
                return Result(status, latency, excerpt)
            span.set_attribute("error.type", str(status))
            span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
            message = f"destination answered HTTP {status}"
            if status in (408, 429) or status >= 500:
                failure_cls: type[RetryableDelivery | PermanentDelivery] = RetryableDelivery
            else:
                failure_cls = PermanentDelivery
                if 300 <= status < 400:
                    message += " (redirects are not followed; point the destination at the final URL)"
            failure = failure_cls(message, status=status, excerpt=excerpt, retry_after=retry_after)
            failure.latency_ms = latency  # type: ignore[attr-defined]
            raise failure
