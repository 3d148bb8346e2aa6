"""delivery wiring: one durable consumer per destination on hookmesh.deliver.{destination}.

A slow or failing destination holds only its own consumer. Retries are scheduled by JetStream
(`nak` with a delay), so no message is held while waiting; each attempt's record is kept in the
attempts bucket until the event is delivered or dead-lettered with its whole history.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec
import nats.errors
import nats.js.errors
from aiohttp import web
from nats.aio.msg import Msg
from opentelemetry import trace
from prometheus_client import Counter, Histogram

from services.delivery.handler import after_failure, record_failure
from services.delivery.sender import Sender
from shared import subjects
from shared.config import Destination, encode_item, resolve_secret
from shared.deadletters import Attempt, safe_event_bytes
from shared.envelope import decode, source_name
from shared.errors import ConfigError, DeliveryFailure, MalformedEnvelope
from shared.metrics import LATENCY_BUCKETS
from shared.nats_runtime import ACK, Outcome, PullConsumer, ensure_consumer
from shared.servicehost import ServiceContext

log = logging.getLogger("hookmesh.delivery")
_history_decoder = msgspec.json.Decoder(list[Attempt])


class _Running:
    def __init__(self, destination: Destination, sender: Sender, consumer: PullConsumer) -> None:
        self.destination = destination
        self.fingerprint = encode_item(destination)
        self.sender = sender
        self.consumer = consumer


class DeliveryService:
    name = "delivery"

    def __init__(self) -> None:
        self.running: dict[str, _Running] = {}
        self.misconfigured: dict[str, str] = {}
        self._reconcile_lock = asyncio.Lock()
        self._pending_reconcile: asyncio.Task[None] | None = None

    def http_routes(self) -> list[web.RouteDef]:
        return []

    def pull_consumers(self) -> list[PullConsumer]:
        return [r.consumer for r in self.running.values()]

    async def start(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.attempts_kv = await ctx.js.key_value(subjects.ATTEMPTS_BUCKET)
        self.attempts = Counter("hookmesh_delivery_attempts_total", "Delivery attempts, by destination and "
                                "result (2xx, 4xx, 5xx, error)", ["destination", "result"], registry=ctx.registry)
        self.retries = Counter("hookmesh_delivery_retries_total", "Attempts scheduled for retry",
                               ["destination"], registry=ctx.registry)
        self.latency = Histogram("hookmesh_delivery_seconds", "Destination response time",
                                 ["destination"], buckets=LATENCY_BUCKETS, registry=ctx.registry)
        await self.reconcile()
        ctx.config.on_change(self._on_config_change)

    def _on_config_change(self, kind: str, name: str) -> None:
        if kind == "destinations":
            self._pending_reconcile = asyncio.create_task(self.reconcile())

    async def reconcile(self) -> None:
        """Start, restart or stop destination consumers so they match the configuration."""
        async with self._reconcile_lock:
            wanted = dict(self.ctx.config.snapshot.destinations)
            for name in list(self.running):
                current = self.running[name]
                if name not in wanted or encode_item(wanted[name]) != current.fingerprint:
                    del self.running[name]
                    await current.consumer.stop(grace=current.destination.timeout + 1)
                    await current.sender.close()
            for name, destination in wanted.items():
                if name not in self.running:
                    await self._start_destination(destination)
            for name in list(self.misconfigured):
                if name not in wanted:
                    del self.misconfigured[name]

    async def _start_destination(self, destination: Destination) -> None:
        name = destination.name
        try:
            secret = resolve_secret(destination.secret_env, destination.secret_file,
                                    what=f"destinations.{name}.secret")
        except ConfigError as exc:
            self.misconfigured[name] = str(exc)
            log.error("destination %s is not started, its events wait in the stream: %s", name, exc)
            return
        self.misconfigured.pop(name, None)
        if secret is None:
            log.warning("destination %s has no signing secret; its requests carry no webhook-signature", name)
        durable = subjects.delivery_consumer(name)
        await ensure_consumer(self.ctx.js, subjects.DELIVER_STREAM, durable, subjects.deliver(name),
                              ack_wait=destination.timeout + 30,
                              max_ack_pending=max(10_000, destination.max_in_flight * 4),
                              description=f"hookmesh delivery to {name}")
        sender = Sender(destination, secret, self.ctx.tracer)

        async def handle(msg: Msg) -> Outcome:
            return await self.handle(msg, name)

        consumer = PullConsumer(self.ctx.nc, subjects.DELIVER_STREAM, durable, handle, tracer=self.ctx.tracer,
                                metrics=self.ctx.metrics, max_in_flight=destination.max_in_flight)
        await consumer.start()
        self.running[name] = _Running(destination, sender, consumer)
        log.info("delivering to %s (%s)", name, destination.url)

    async def stop(self, grace: float) -> None:
        await asyncio.gather(*(r.consumer.stop(grace) for r in self.running.values()))
        for running in self.running.values():
            await running.sender.close()
        self.running.clear()

    def readiness(self) -> dict[str, Any]:
        checks: dict[str, Any] = {"destinations_running": sorted(self.running)}
        if self.misconfigured:
            checks["misconfigured_destinations"] = sorted(self.misconfigured)
        return checks

    async def handle(self, msg: Msg, name: str) -> Outcome:
        running = self.running.get(name)
        if running is None:
            return Outcome.nak(5.0, "destination_stopped")
        meta = msg.metadata
        seq, attempt = meta.sequence.stream, meta.num_delivered
        try:
            event = decode(msg.data)
        except MalformedEnvelope as exc:
            await self.ctx.dead_letters.write(
                name=name, event=safe_event_bytes(msg.data), event_id=(msg.headers or {}).get("Nats-Msg-Id", ""),
                reason="malformed_envelope", error=str(exc), input_seq=seq, destination=name, subject=msg.subject,
                replayable=False)
            return Outcome("ack", reason="malformed_envelope")
        span = trace.get_current_span()
        span.set_attributes({"hookmesh.event.id": event.id, "hookmesh.destination": name,
                             "hookmesh.attempt": attempt})
        key = f"{name}.{event.id}"
        try:
            result = await running.sender.send(event.id, msg.data, attempt)
        except DeliveryFailure as failure:
            self.attempts.labels(name, _result_class(failure.status)).inc()
            record = record_failure(failure, attempt)
            decision = after_failure(running.destination, failure, record)
            history = await self._history(key) if attempt > 1 else []
            history.append(record)
            if decision.action == "retry":
                await self.attempts_kv.put(key, msgspec.json.encode(history))
                self.retries.labels(name).inc()
                log.info("attempt %d failed, retrying in %.1fs: %s", attempt, decision.delay, failure,
                         extra={"event_id": event.id, "destination": name})
                return Outcome.nak(decision.delay, "retry")
            details: dict[str, Any] = {"status": failure.status, "response_excerpt": failure.excerpt[:1024],
                                       "url": running.destination.url}
            await self.ctx.dead_letters.write(
                name=name, event=msg.data, event_id=event.id, reason=decision.reason, error=str(failure),
                input_seq=seq, source=source_name(event.source), event_type=event.type, destination=name,
                subject=msg.subject, details=details, history=history)
            await self._forget(key, attempt)
            return Outcome("ack", reason=decision.reason)
        self.attempts.labels(name, "2xx").inc()
        self.latency.labels(name).observe(result.latency_ms / 1000)
        await self._forget(key, attempt)
        return ACK

    async def _history(self, key: str) -> list[Attempt]:
        with contextlib.suppress(nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
            entry = await self.attempts_kv.get(key)
            if entry.value:
                with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
                    return _history_decoder.decode(entry.value)
        return []

    async def _forget(self, key: str, attempt: int) -> None:
        if attempt > 1:
            with contextlib.suppress(nats.js.errors.Error, nats.errors.Error):
                await self.attempts_kv.purge(key)


def _result_class(status: int | None) -> str:
    return f"{status // 100}xx" if status else "error"
