"""A consumer service for the demo: verifies the Standard Webhooks signature and prints each event.

It is what a team's own service would do on receiving a hookmesh delivery, in thirty lines.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import msgspec
import standardwebhooks
from aiohttp import web
from opentelemetry.trace import SpanKind

from shared import tracing

log = logging.getLogger("hookmesh.demo-sink")


def build_app(secret: str | None, *, on_event: Callable[[dict[str, Any]], None] | None = None) -> web.Application:
    verifier = standardwebhooks.Webhook(secret) if secret else None
    tracer = tracing.tracer_for("demo-sink")
    seen: set[str] = set()

    async def receive(request: web.Request) -> web.Response:
        with tracer.start_as_current_span("POST /hooks", context=tracing.extract(request.headers),
                                          kind=SpanKind.SERVER,
                                          attributes={"http.request.method": "POST", "http.route": "/hooks"}):
            body = await request.read()
            if verifier is not None:
                try:
                    verifier.verify(body, dict(request.headers))
                except standardwebhooks.webhooks.WebhookVerificationError as exc:
                    log.warning("refused a delivery with a bad signature: %s", exc)
                    return web.Response(status=401, text="bad signature")
            event = msgspec.json.decode(body)
            webhook_id = request.headers.get("webhook-id", "")
            again = " (again: same webhook-id, a receiver would skip it)" if webhook_id in seen else ""
            seen.add(webhook_id)
            log.info("received %s %s%s", event.get("type"), msgspec.json.encode(event.get("data")).decode(), again,
                     extra={"event_id": event.get("id"),
                            "signature": "verified" if verifier else "unsigned"})
            if on_event:
                on_event(event)
            return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hooks", receive)
    return app
