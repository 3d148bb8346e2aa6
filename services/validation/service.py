"""validation wiring: consumes hookmesh.ingress.>, publishes hookmesh.events.{type} or a dead letter."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from nats.aio.msg import Msg

from services.validation.deprecation import DeprecationTracker
from services.validation.handler import judge, restamp_replay
from services.validation.registry import SchemaRegistry
from services.validation.rpc import ValidateResponder
from shared import subjects
from shared.deadletters import safe_event_bytes
from shared.envelope import decode, encode, schema_uri, source_name
from shared.errors import MalformedEnvelope
from shared.nats_runtime import ACK, Outcome, PullConsumer, ensure_consumer
from shared.servicehost import ServiceContext

log = logging.getLogger("hookmesh.validation")


class ValidationService:
    name = "validation"

    def __init__(self, max_in_flight: int = 256) -> None:
        self.max_in_flight = max_in_flight
        self.consumer: PullConsumer | None = None
        self.responder: ValidateResponder | None = None

    def http_routes(self) -> list[web.RouteDef]:
        return []

    def pull_consumers(self) -> list[PullConsumer]:
        return [self.consumer] if self.consumer else []

    async def start(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.registry = SchemaRegistry(ctx.config.snapshot)
        ctx.config.on_change(lambda kind, name: self.registry.invalidate(name) if kind == "schemas" else None)
        self.deprecations = DeprecationTracker(ctx.registry)
        self.responder = ValidateResponder(ctx.nc, self.registry)
        await self.responder.start()
        await ensure_consumer(ctx.js, subjects.INGRESS_STREAM, subjects.VALIDATION_CONSUMER, subjects.INGRESS_ALL,
                              max_ack_pending=max(1000, self.max_in_flight * 4),
                              description="hookmesh validation")
        self.consumer = PullConsumer(ctx.nc, subjects.INGRESS_STREAM, subjects.VALIDATION_CONSUMER, self.handle,
                                     tracer=ctx.tracer, metrics=ctx.metrics, max_in_flight=self.max_in_flight)
        await self.consumer.start()

    async def stop(self, grace: float) -> None:
        if self.responder:
            await self.responder.stop()
        if self.consumer:
            await self.consumer.stop(grace)

    def readiness(self) -> dict[str, Any]:
        return {"consumer_running": self.consumer is not None}

    async def handle(self, msg: Msg) -> Outcome:
        seq = msg.metadata.sequence.stream
        source = subjects.source_from_ingress(msg.subject)
        try:
            event = decode(msg.data)
        except MalformedEnvelope as exc:
            await self.ctx.dead_letters.write(
                name=source, event=safe_event_bytes(msg.data), event_id=(msg.headers or {}).get("Nats-Msg-Id", ""),
                reason="malformed_envelope", error=str(exc), input_seq=seq, source=source, subject=msg.subject,
                replayable=False)
            return Outcome("ack", reason="malformed_envelope")
        replay_of = (msg.headers or {}).get("Hookmesh-Replay-Of")
        if replay_of and restamp_replay(event, self.ctx.config.snapshot.sources.get(source_name(event.source))):
            log.info("replay judged against the source's current schema version %s", event.dataschema,
                     extra={"event_id": event.id, "dead_letter_id": replay_of})
        verdict = judge(event, self.registry)
        if not verdict.ok:
            await self.ctx.dead_letters.write(
                name=source, event=encode(event), event_id=event.id, reason=verdict.reason, error=verdict.error,
                input_seq=seq, source=source_name(event.source), event_type=event.type, subject=msg.subject,
                details=verdict.details)
            return Outcome("ack", reason=verdict.reason)
        event.dataschema = schema_uri(event.type, verdict.version or 1)
        if verdict.schema is not None and verdict.schema.deprecated:
            self.deprecations.observe(source, event, verdict.schema)
        await self.ctx.publisher.publish_event(subjects.events(event.type), event, msg_id=f"{event.id}:v:{seq}",
                                               stream=subjects.EVENTS_STREAM)
        return ACK
