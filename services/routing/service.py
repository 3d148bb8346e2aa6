"""routing wiring: consumes hookmesh.events.>, publishes hookmesh.deliver.{destination}."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from nats.aio.msg import Msg
from opentelemetry import trace
from prometheus_client import Counter

from services.routing.handler import decide
from services.routing.rules import RouteTable
from shared import subjects
from shared.deadletters import safe_event_bytes
from shared.envelope import decode, encode, source_name
from shared.errors import MalformedEnvelope
from shared.nats_runtime import ACK, Outcome, PullConsumer, ensure_consumer
from shared.servicehost import ServiceContext

log = logging.getLogger("hookmesh.routing")


class RoutingService:
    name = "routing"

    def __init__(self, max_in_flight: int = 256) -> None:
        self.max_in_flight = max_in_flight
        self.consumer: PullConsumer | None = None
        self.table = RouteTable()
        self.broken_routes: list[str] = []

    def http_routes(self) -> list[web.RouteDef]:
        return []

    def pull_consumers(self) -> list[PullConsumer]:
        return [self.consumer] if self.consumer else []

    async def start(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.routed = Counter("hookmesh_routed_total", "Events published to a destination, by route match",
                              ["destination"], registry=ctx.registry)
        self.unroutable = Counter("hookmesh_unroutable_total", "Events that matched no route, by source",
                                  ["source"], registry=ctx.registry)
        self.region_blocked = Counter("hookmesh_region_blocked_total", "Deliveries refused by a destination's "
                                      "allowed_regions, by route, destination and region", ["route", "destination",
                                                                                            "region"],
                                      registry=ctx.registry)
        self._rebuild()
        ctx.config.on_change(lambda kind, name: self._rebuild() if kind == "routes" else None)
        await ensure_consumer(ctx.js, subjects.EVENTS_STREAM, subjects.ROUTING_CONSUMER, subjects.EVENTS_ALL,
                              max_ack_pending=max(1000, self.max_in_flight * 4), description="hookmesh routing")
        self.consumer = PullConsumer(ctx.nc, subjects.EVENTS_STREAM, subjects.ROUTING_CONSUMER, self.handle,
                                     tracer=ctx.tracer, metrics=ctx.metrics, max_in_flight=self.max_in_flight)
        await self.consumer.start()

    def _rebuild(self) -> None:
        self.broken_routes = self.table.rebuild(self.ctx.config.snapshot.routes)
        for name in self.broken_routes:
            log.error("route %s does not compile and is skipped; fix it and apply again", name)

    async def stop(self, grace: float) -> None:
        if self.consumer:
            await self.consumer.stop(grace)

    def readiness(self) -> dict[str, Any]:
        checks: dict[str, Any] = {"consumer_running": self.consumer is not None}
        if self.broken_routes:
            checks["broken_routes"] = self.broken_routes
        return checks

    async def handle(self, msg: Msg) -> Outcome:
        seq = msg.metadata.sequence.stream
        try:
            event = decode(msg.data)
        except MalformedEnvelope as exc:
            await self.ctx.dead_letters.write(
                name="_malformed", event=safe_event_bytes(msg.data), reason="malformed_envelope", error=str(exc),
                event_id=(msg.headers or {}).get("Nats-Msg-Id", ""), input_seq=seq, subject=msg.subject,
                replayable=False)
            return Outcome("ack", reason="malformed_envelope")
        snapshot = self.ctx.config.snapshot
        decision = decide(event, self.table, snapshot.destinations)
        source = source_name(event.source)
        span = trace.get_current_span()
        span.set_attribute("hookmesh.event.id", event.id)
        span.set_attribute("hookmesh.routes", decision.routes)
        for route_name, name in decision.region_blocked:
            self.region_blocked.labels(route_name, name, _region_label(event.region, snapshot)).inc()
            span.add_event("hookmesh.region_blocked", {"hookmesh.route": route_name, "hookmesh.destination": name,
                                                       "hookmesh.region": event.region or ""})
        if decision.destinations:
            publishes = [self.ctx.publisher.publish_event(decision.subjects[name], event,
                                                          msg_id=f"{event.id}:r:{seq}:{name}",
                                                          stream=subjects.DELIVER_STREAM)
                         for name in decision.destinations]
            if len(publishes) == 1:  # the usual case: no task for gather to wrap it in
                await publishes[0]
            else:
                await asyncio.gather(*publishes)
            for name in decision.destinations:
                self.routed.labels(name).inc()
            return ACK
        if decision.region_blocked or decision.unknown:
            reason = "region_blocked" if decision.region_blocked else "unknown_destination"
            blocked = decision.blocked_destinations
            error = (f"region {event.region!r} is not allowed by {', '.join(blocked)}"
                     if blocked else f"routes name undefined destinations: {decision.unknown}")
            await self._dead_letter(event, msg, seq, source, reason, error,
                                    {"routes": decision.routes, "destinations": blocked + decision.unknown,
                                     "region": event.region})
            return Outcome("ack", reason=reason)
        self.unroutable.labels(source if source in snapshot.sources else "_other").inc()
        origin = snapshot.sources.get(source)
        if origin is not None and origin.unroutable == "deadletter":
            await self._dead_letter(event, msg, seq, source, "unroutable", f"no route matches {event.type}", {})
            return Outcome("ack", reason="unroutable")
        log.info("unroutable: no route matches", extra={"event_id": event.id, "type": event.type, "source": source})
        return Outcome("ack", reason="unroutable")

    async def _dead_letter(self, event: Any, msg: Msg, seq: int, source: str, reason: str, error: str,
                           details: dict[str, Any]) -> None:
        await self.ctx.dead_letters.write(
            name=source, event=encode(event), event_id=event.id, reason=reason, error=error, input_seq=seq,
            source=source, event_type=event.type, subject=msg.subject, details=details)


def _region_label(region: str | None, snapshot: Any) -> str:
    """The region as a metric label: only regions the configuration names, so labels stay bounded."""
    if region is None:
        return "none"
    known = {r for d in snapshot.destinations.values() for r in (d.allowed_regions or ())}
    known |= {s.region for s in snapshot.sources.values() if s.region}
    return region if region in known else "other"
