"""`hookmesh.rpc.validate`: core NATS request-reply (queue group `validation`) for ingress dry runs.

The request is an encoded CloudEvent; the reply says whether it would pass, with every error.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from services.validation.handler import judge
from services.validation.registry import SchemaRegistry
from shared import subjects
from shared.envelope import decode, schema_uri
from shared.errors import MalformedEnvelope

log = logging.getLogger("hookmesh.validation.rpc")
QUEUE = "validation"


def verdict_reply(data: bytes, registry: SchemaRegistry) -> dict[str, Any]:
    try:
        event = decode(data)
    except MalformedEnvelope as exc:
        return {"ok": False, "reason": "malformed_envelope", "error": str(exc), "errors": []}
    verdict = judge(event, registry)
    reply: dict[str, Any] = {"ok": verdict.ok, "reason": verdict.reason, "error": verdict.error,
                             "errors": verdict.details.get("errors", [])}
    if verdict.version:
        reply["dataschema"] = schema_uri(event.type, verdict.version)
    if verdict.schema is not None and verdict.schema.deprecated:
        reply["deprecated"] = True
        reply["sunset"] = verdict.schema.sunset.isoformat() if verdict.schema.sunset else None
    return reply


class ValidateResponder:
    def __init__(self, nc: NATS, registry: SchemaRegistry) -> None:
        self.nc = nc
        self.registry = registry
        self.sub: Any = None

    async def start(self) -> None:
        self.sub = await self.nc.subscribe(subjects.RPC_VALIDATE, queue=QUEUE, cb=self._on_request)

    async def _on_request(self, msg: Msg) -> None:
        try:
            reply = verdict_reply(msg.data, self.registry)
        except Exception as exc:  # never let a request kill the subscription
            log.exception("dry-run validation failed")
            reply = {"ok": False, "reason": "internal_error", "error": type(exc).__name__, "errors": []}
        if msg.reply:
            await msg.respond(msgspec.json.encode(reply))

    async def stop(self) -> None:
        if self.sub is not None:
            await self.sub.unsubscribe()
