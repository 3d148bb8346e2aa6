"""delivery wiring: durable consumers per destination on hookmesh.deliver.{destination}[.batch|.ordered].

A slow or failing destination holds only its own consumers. Retries are scheduled by JetStream
(`nak` with a delay), so no message is held while waiting; each attempt's record is kept in the
attempts bucket until the event is delivered or dead-lettered with its whole history. Ordered and
batch events have consumers of their own (see ordering.py and batch.py). A destination that is paused
(config or `hookmesh destinations pause`), disabled (410 Gone) or whose circuit breaker is open stops
fetching: its events wait in the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
import nats.errors
import nats.js.errors
from aiohttp import web
from nats.aio.msg import Msg
from opentelemetry import trace
from prometheus_client import Counter, Gauge, Histogram

from services.delivery import formats
from services.delivery.batch import BATCH_CONTENT_TYPE, Batcher, batch_body, batch_id
from services.delivery.breaker import STATE_VALUES, CircuitBreaker, Grant, State
from services.delivery.handler import after_failure, record_failure
from services.delivery.ordering import KeySequencer
from services.delivery.pause import DestinationStates, StateRecord, note_breaker, set_flag
from services.delivery.sender import Result, Sender
from shared import subjects, tracing
from shared.config import Destination, encode_item, resolve_secret
from shared.deadletters import Attempt, safe_event_bytes
from shared.envelope import CloudEvent, decode, new_event, new_event_id, now_rfc3339, source_name
from shared.errors import ConfigError, DeliveryFailure, MalformedEnvelope, RetryableDelivery
from shared.metrics import END_TO_END_BUCKETS, LATENCY_BUCKETS
from shared.nats_runtime import ACK, Outcome, PullConsumer, ensure_consumer
from shared.servicehost import ServiceContext

log = logging.getLogger("hookmesh.delivery")
_history_decoder = msgspec.json.Decoder(list[Attempt])

ORDERED_GROUP = "ordered"
ORDER_WINDOW = 256          # ordered events held at once per destination (all keys together)
GATE_POLL = 0.05            # how often a held message looks again at a paused destination or open breaker
HAND_BACK = Outcome.nak(1.0, "stopping")
KEEP_ALIVE_EVERY = 5.0  # seconds between in-progress acks of a held message
SYSTEM_SOURCE = "/hookmesh/system"
DISABLED_TYPE = "com.hookmesh.destination.disabled"


@dataclass(frozen=True)
class BatchSettings:
    interval: float
    max_events: int


def ordered_failover_seconds() -> float:
    """How long an ordered destination waits for its pinned delivery replica before another takes over
    (HOOKMESH_ORDERED_FAILOVER_SECONDS, default 30; must exceed the 10 s pull expiry)."""
    raw = os.environ.get("HOOKMESH_ORDERED_FAILOVER_SECONDS", "30")
    try:
        return max(1.0, float(raw))
    except ValueError:
        raise SystemExit(f"HOOKMESH_ORDERED_FAILOVER_SECONDS={raw!r} is not a number of seconds") from None


@dataclass
class _Running:
    destination: Destination
    fingerprint: bytes
    sender: Sender
    breaker: CircuitBreaker
    consumers: dict[str, PullConsumer] = field(default_factory=dict)
    sequencer: KeySequencer = field(default_factory=KeySequencer)
    batcher: Batcher[tuple[Msg, CloudEvent], Outcome] | None = None


class DeliveryService:
    name = "delivery"

    def __init__(self) -> None:
        self.running: dict[str, _Running] = {}
        self.misconfigured: dict[str, str] = {}
        self._reconcile_lock = asyncio.Lock()
        self._pending_reconcile: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._stopping = False

    def http_routes(self) -> list[web.RouteDef]:
        return []

    def pull_consumers(self) -> list[PullConsumer]:
        return [c for r in self.running.values() for c in r.consumers.values()]

    async def start(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.attempts_kv = await ctx.js.key_value(subjects.ATTEMPTS_BUCKET)
        registry = ctx.registry
        self.attempts = Counter("hookmesh_delivery_attempts_total", "Delivery attempts, by destination and "
                                "result (2xx, 4xx, 5xx, error)", ["destination", "result"], registry=registry)
        self.retries = Counter("hookmesh_delivery_retries_total", "Attempts scheduled for retry",
                               ["destination"], registry=registry)
        self.rate_wait = Histogram("hookmesh_delivery_rate_limit_wait_seconds", "Time an attempt waited for the "
                                   "destination's rate_limit", ["destination"], buckets=LATENCY_BUCKETS,
                                   registry=registry)
        self.end_to_end = Histogram("hookmesh_end_to_end_seconds", "From ingress accepting an event to the "
                                    "destination's 2xx, by destination (includes retries and waiting)",
                                    ["destination"], buckets=END_TO_END_BUCKETS, registry=registry)
        self.latency = Histogram("hookmesh_delivery_seconds", "Destination response time",
                                 ["destination"], buckets=LATENCY_BUCKETS, registry=registry)
        self.breaker_state = Gauge("hookmesh_destination_breaker_state", "Circuit breaker per destination: "
                                   "0 closed, 1 half-open, 2 open", ["destination"], registry=registry)
        self.breaker_transitions = Counter("hookmesh_destination_breaker_transitions_total", "Breaker state "
                                           "changes, by the state entered", ["destination", "to"], registry=registry)
        self.paused_gauge = Gauge("hookmesh_destination_paused", "1 while a destination is paused (by hand or "
                                  "config); its events wait in the stream", ["destination"], registry=registry)
        self.disabled_gauge = Gauge("hookmesh_destination_disabled", "1 while a destination is disabled after "
                                    "410 Gone; its events wait in the stream", ["destination"], registry=registry)
        self.batches = Counter("hookmesh_delivery_batches_total", "Batch requests, by destination and result",
                               ["destination", "result"], registry=registry)
        self.states = DestinationStates(ctx.js)
        await self.states.start()
        self.states.on_change(self._apply_pause)
        await self.reconcile()
        ctx.config.on_change(self._on_config_change)
        self._supervisor = asyncio.create_task(self._supervise(), name="delivery-breakers")

    def _on_config_change(self, kind: str, name: str) -> None:
        if kind in ("destinations", "routes"):
            self._pending_reconcile = asyncio.create_task(self.reconcile())

    def _batch_settings(self, name: str) -> BatchSettings | None:
        """A destination's batch consumer runs when a `channel: batch` route sends to it; with several such
        routes the shortest interval and the smallest max_events win."""
        found = [r.batch for r in self.ctx.config.snapshot.routes.values() if r.channel == "batch" and name in r.to]
        if not found:
            return None
        interval = min((b.interval if b else 5.0) for b in found)
        max_events = min((b.max_events if b else 100) for b in found)
        return BatchSettings(float(interval), int(max_events))

    async def reconcile(self) -> None:
        """Start, restart or stop destination consumers so they match the configuration."""
        async with self._reconcile_lock:
            wanted = dict(self.ctx.config.snapshot.destinations)
            for name in list(self.running):
                current = self.running[name]
                if name not in wanted or self._fingerprint(wanted[name]) != current.fingerprint:
                    del self.running[name]
                    await self._stop_running(current, grace=current.destination.timeout + 1)
            for name, destination in wanted.items():
                if name not in self.running:
                    await self._start_destination(destination)
            for name in list(self.misconfigured):
                if name not in wanted:
                    del self.misconfigured[name]

    def _fingerprint(self, destination: Destination) -> bytes:
        return encode_item(destination) + repr(self._batch_settings(destination.name)).encode()

    async def _stop_running(self, running: _Running, grace: float) -> None:
        # Held messages go back with a short delay rather than at once: a nak(0) would be redelivered to
        # this consumer's still-outstanding pull requests and then wait out ack_wait.
        for consumer in running.consumers.values():
            consumer.pause(True)
        if running.batcher is not None:
            await running.batcher.close(HAND_BACK)
        await asyncio.gather(*(c.stop(grace) for c in running.consumers.values()))
        await running.sender.close()

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
        sender = Sender(destination, secret, self.ctx.tracer,
                        on_rate_wait=self.rate_wait.labels(destination.name).observe)
        breaker = CircuitBreaker(destination.breaker,
                                 on_change=lambda before, after, why: self._breaker_changed(name, after, why))
        running = _Running(destination, self._fingerprint(destination), sender, breaker)
        self.breaker_state.labels(name).set(0)
        ack_wait = ack_wait_of(destination)

        async def handle(msg: Msg) -> Outcome:
            return await self.handle(msg, name)

        async def handle_ordered(msg: Msg) -> Outcome:
            return await self.handle_ordered(msg, name)

        async def handle_batch(msg: Msg) -> Outcome:
            return await self.handle_batch(msg, name)

        plan: list[tuple[str, str, str, Any, int, float]] = [
            ("stream", subjects.delivery_consumer(name), subjects.deliver(name), handle, destination.max_in_flight,
             ack_wait)]
        if destination.ordered:
            plan.append(("ordered", subjects.delivery_ordered_consumer(name), subjects.deliver_ordered(name),
                         handle_ordered, ORDER_WINDOW, ack_wait))
        batch = self._batch_settings(name)
        if batch is not None:
            running.batcher = Batcher(batch.max_events, batch.interval,
                                      lambda items: self._flush_batch(name, items))
            plan.append(("batch", subjects.delivery_batch_consumer(name), subjects.deliver_batch(name),
                         handle_batch, batch.max_events, ack_wait + batch.interval))
        for kind, durable, subject, handler, in_flight, wait in plan:
            # Ordered events must have one reader: of all delivery replicas, the server pins one.
            pinned = ORDERED_GROUP if kind == "ordered" else None
            await ensure_consumer(self.ctx.js, subjects.DELIVER_STREAM, durable, subject, ack_wait=wait,
                                  max_ack_pending=max(10_000, in_flight * 4),
                                  description=f"hookmesh delivery to {name} ({kind})", pinned_group=pinned,
                                  pinned_timeout=ordered_failover_seconds())
            running.consumers[kind] = PullConsumer(
                self.ctx.nc, subjects.DELIVER_STREAM, durable, handler, tracer=self.ctx.tracer,
                metrics=self.ctx.metrics, max_in_flight=in_flight, pinned_group=pinned)
        self.running[name] = running
        self._apply_pause(name)
        for consumer in running.consumers.values():
            await consumer.start()
        log.info("delivering to %s (%s; %s)", name, destination.url, ", ".join(running.consumers))

    async def stop(self, grace: float) -> None:
        self._stopping = True  # messages held at the gate are handed back (nak with a delay) at once
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        await asyncio.gather(*(self._stop_running(r, grace) for r in self.running.values()))
        self.running.clear()
        await self.states.stop()

    # ------------------------------------------------------------------------------ pause and breaker

    def held_reason(self, name: str) -> str:
        """Why a destination is not fetching ("" when it is): paused, disabled or breaker_open."""
        running = self.running.get(name)
        if running is None:
            return "stopped"
        if running.destination.paused or self.states.paused(name):
            return "paused"
        if self.states.disabled(name):
            return "disabled"
        if running.breaker.state == "open":
            return "breaker_open"
        return ""

    def _apply_pause(self, name: str) -> None:
        running = self.running.get(name)
        if running is None:
            return
        reason = self.held_reason(name)
        for consumer in running.consumers.values():
            consumer.pause(bool(reason))
        self.paused_gauge.labels(name).set(1 if running.destination.paused or self.states.paused(name) else 0)
        self.disabled_gauge.labels(name).set(1 if self.states.disabled(name) else 0)

    def _breaker_changed(self, name: str, state: State, reason: str) -> None:
        log.warning("circuit breaker for %s is now %s: %s", name, state, reason, extra={"destination": name})
        self.breaker_state.labels(name).set(STATE_VALUES[state])
        self.breaker_transitions.labels(name, state).inc()
        self._apply_pause(name)
        if self.states.kv is not None:
            self._spawn(note_breaker(self.states.kv, name, state, reason))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _supervise(self) -> None:
        """Moves open breakers to half-open when their cooldown is over (which resumes fetching)."""
        while True:
            for running in list(self.running.values()):
                running.breaker.poll()
            await asyncio.sleep(0.1)

    def _gate_now(self, running: _Running) -> Grant | None:
        """The gate without waiting: a grant when the destination takes an attempt right now."""
        if self._stopping or self.held_reason(running.destination.name) not in ("", "breaker_open"):
            return None
        return running.breaker.acquire()

    async def _gate(self, running: _Running) -> Grant | None:
        """Wait while the destination is paused, disabled or its breaker refuses; None when it was stopped.
        Held messages are few (the consumer stopped fetching) and kept alive by their handler."""
        name = running.destination.name
        while self.running.get(name) is running and not self._stopping:
            grant = self._gate_now(running)
            if grant is not None:
                return grant
            await asyncio.sleep(GATE_POLL)
        return None

    def readiness(self) -> dict[str, Any]:
        checks: dict[str, Any] = {"destinations_running": sorted(self.running)}
        checks["destinations"] = {
            name: {"breaker": r.breaker.state, "breaker_reason": r.breaker.reason,
                   "failure_ratio": round(r.breaker.failure_ratio(), 3), "held": self.held_reason(name) or None,
                   "paused": r.destination.paused or self.states.paused(name),
                   "disabled": self.states.disabled(name), "consumers": sorted(r.consumers),
                   "in_flight": sum(c.in_flight for c in r.consumers.values())}
            for name, r in sorted(self.running.items())}
        if self.misconfigured:
            checks["misconfigured_destinations"] = sorted(self.misconfigured)
        return checks

    # ------------------------------------------------------------------------------ one attempt

    async def _attempt(self, running: _Running, event: CloudEvent, raw: bytes, attempt: int) -> Result:
        if running.destination.format == "binary":
            content_headers, body = formats.binary(event)
            return await running.sender.send(event.id, body, attempt, content_headers=content_headers)
        return await running.sender.send(event.id, raw, attempt)

    def _observe(self, running: _Running, grant: Grant, failure: DeliveryFailure | None,
                 result: Result | None = None) -> None:
        name = running.destination.name
        if failure is None:
            self.attempts.labels(name, "2xx").inc()
            if result is not None:
                self.latency.labels(name).observe(result.latency_ms / 1000)
            running.breaker.record(True, probe=grant == "probe")
            return
        self.attempts.labels(name, _result_class(failure.status)).inc()
        # Only failures that say "the destination is down" count; a 4xx means it is up and answering.
        running.breaker.record(not isinstance(failure, RetryableDelivery), probe=grant == "probe")

    async def _disable(self, running: _Running, event: CloudEvent, failure: DeliveryFailure) -> None:
        """410 Gone: disable the destination for every replica (events stay queued) and say so once."""
        name = running.destination.name
        record = StateRecord(at=now_rfc3339(), by=f"delivery@{socket.gethostname()}", status=failure.status,
                             reason=f"{running.destination.url} answered 410 Gone", event_id=event.id)
        self.states.flags.setdefault(name, {})["disabled"] = record
        self._apply_pause(name)
        assert self.states.kv is not None
        first = await set_flag(self.states.kv, name, "disabled", record, only_if_absent=True)
        log.error("destination %s answered 410 Gone: disabled; its events wait in the stream until "
                  "`hookmesh destinations resume %s`", name, name, extra={"destination": name})
        if not first or event.type.startswith("com.hookmesh."):
            return  # already announced, or about an operational event (no loops)
        data = {"destination": name, "url": running.destination.url, "status": failure.status,
                "reason": record.reason, "event_id": event.id, "event_type": event.type, "at": record.at}
        operational = new_event(id=new_event_id(), source=SYSTEM_SOURCE, type=DISABLED_TYPE, time=record.at,
                                subject=name, datacontenttype="application/json",
                                correlationid=event.correlationid, data=msgspec.Raw(msgspec.json.encode(data)))
        await self.ctx.publisher.publish_event(subjects.events(DISABLED_TYPE), operational,
                                               msg_id=f"{DISABLED_TYPE}:{name}:{event.id}",
                                               stream=subjects.EVENTS_STREAM)

    # ------------------------------------------------------------------------------ stream channel

    async def handle(self, msg: Msg, name: str) -> Outcome:
        running = self.running.get(name)
        if running is None:
            return Outcome.nak(5.0, "destination_stopped")
        meta = msg.metadata
        seq, attempt = meta.sequence.stream, meta.num_delivered
        event = await self._decode(msg, name, seq)
        if event is None:
            return Outcome("ack", reason="malformed_envelope")
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attributes({"hookmesh.event.id": event.id, "hookmesh.destination": name,
                                 "hookmesh.attempt": attempt})
        grant = self._gate_now(running)
        if grant is None:
            async with _keep_alive(msg, ack_wait_of(running.destination)):
                grant = await self._gate(running)
        if grant is None:
            return Outcome.nak(1.0, "destination_stopped")
        key = f"{name}.{event.id}"
        try:
            async with self._while_rate_limited(running, msg):
                result = await self._attempt(running, event, msg.data, attempt)
        except DeliveryFailure as failure:
            self._observe(running, grant, failure)
            if failure.status == 410:
                await self._disable(running, event, failure)
                return Outcome.nak(1.0, "destination_gone")
            record = record_failure(failure, attempt)
            decision = after_failure(running.destination, failure, record, age=_age(msg))
            history = await self._history(key) if attempt > 1 else []
            history.append(record)
            if decision.action == "retry":
                await self.attempts_kv.put(key, msgspec.json.encode(history))
                self.retries.labels(name).inc()
                log.info("attempt %d failed, retrying in %.1fs: %s", attempt, decision.delay, failure,
                         extra={"event_id": event.id, "destination": name})
                return Outcome.nak(decision.delay, "retry")
            await self._dead_letter(running, msg, event, failure, decision.reason, history)
            await self._forget(key, attempt)
            return Outcome("ack", reason=decision.reason)
        self._observe(running, grant, None, result)
        self._end_to_end(name, event)
        await self._delivered(key, attempt, result)
        return ACK

    def _while_rate_limited(self, running: _Running, msg: Msg) -> contextlib.AbstractAsyncContextManager[None]:
        """In-progress acks while the attempt may queue for the rate limit: with a low limit and many in
        flight the wait can outlast ack_wait, and JetStream would hand the message out a second time."""
        limiter = running.sender.limiter
        if limiter is None or limiter.has_capacity():
            return contextlib.nullcontext()
        return _keep_alive(msg, ack_wait_of(running.destination))

    def _end_to_end(self, name: str, event: CloudEvent) -> None:
        """Seconds from ingress accepting the event (its `time`) to the destination's 2xx."""
        if not event.time:
            return
        try:
            accepted = datetime.fromisoformat(event.time).timestamp()
        except ValueError:
            return
        self.end_to_end.labels(name).observe(max(0.0, time.time() - accepted))

    async def _decode(self, msg: Msg, name: str, seq: int) -> CloudEvent | None:
        try:
            return decode(msg.data)
        except MalformedEnvelope as exc:
            await self.ctx.dead_letters.write(
                name=name, event=safe_event_bytes(msg.data), event_id=(msg.headers or {}).get("Nats-Msg-Id", ""),
                reason="malformed_envelope", error=str(exc), input_seq=seq, destination=name, subject=msg.subject,
                replayable=False)
            return None

    async def _dead_letter(self, running: _Running, msg: Msg, event: CloudEvent, failure: DeliveryFailure,
                           reason: str, history: list[Attempt]) -> None:
        name = running.destination.name
        details: dict[str, Any] = {"status": failure.status, "response_excerpt": failure.excerpt[:1024],
                                   "url": running.destination.url}
        if reason == "delivery_expired":
            details["max_age_s"] = float(running.destination.retry.max_age or 0)
        await self.ctx.dead_letters.write(
            name=name, event=msg.data, event_id=event.id, reason=reason, error=str(failure),
            input_seq=msg.metadata.sequence.stream, source=source_name(event.source), event_type=event.type,
            destination=name, subject=msg.subject, details=details, history=history)

    # ------------------------------------------------------------------------------ ordered channel

    async def handle_ordered(self, msg: Msg, name: str) -> Outcome:
        """One event per partition key at a time, in stream order. A failed attempt is retried in place
        (the message is held and kept alive) because later events of the key must wait for it anyway."""
        running = self.running.get(name)
        if running is None:
            return Outcome.nak(5.0, "destination_stopped")
        seq, attempt = msg.metadata.sequence.stream, msg.metadata.num_delivered
        event = await self._decode(msg, name, seq)
        if event is None:
            return Outcome("ack", reason="malformed_envelope")
        partition = event.partitionkey or ""
        trace.get_current_span().set_attributes({"hookmesh.event.id": event.id, "hookmesh.destination": name,
                                                 "hookmesh.partitionkey": partition})
        key = f"{name}.{event.id}"
        async with _keep_alive(msg, ack_wait_of(running.destination)), running.sequencer.turn(partition):
            history = await self._history(key) if attempt > 1 else []
            while True:
                grant = await self._gate(running)
                if grant is None:
                    return HAND_BACK
                try:
                    result = await self._attempt(running, event, msg.data, attempt)
                except DeliveryFailure as failure:
                    self._observe(running, grant, failure)
                    if failure.status == 410:
                        await self._disable(running, event, failure)
                        continue  # held in order until the destination is resumed
                    record = record_failure(failure, attempt)
                    decision = after_failure(running.destination, failure, record, age=_age(msg))
                    history.append(record)
                    if decision.action != "retry":
                        await self._dead_letter(running, msg, event, failure, decision.reason, history)
                        await self._forget(key, 2)
                        return Outcome("ack", reason=decision.reason)
                    with contextlib.suppress(nats.js.errors.Error, nats.errors.Error):  # a record, not a gate
                        await self.attempts_kv.put(key, msgspec.json.encode(history))
                    self.retries.labels(name).inc()
                    await asyncio.sleep(decision.delay)
                    attempt += 1
                    continue
                self._observe(running, grant, None, result)
                await self._delivered(key, len(history) + 1, result, history)
                return ACK

    # ------------------------------------------------------------------------------ batch channel

    async def handle_batch(self, msg: Msg, name: str) -> Outcome:
        running = self.running.get(name)
        if running is None or running.batcher is None:
            return Outcome.nak(5.0, "destination_stopped")
        event = await self._decode(msg, name, msg.metadata.sequence.stream)
        if event is None:
            return Outcome("ack", reason="malformed_envelope")
        trace.get_current_span().set_attributes({"hookmesh.event.id": event.id, "hookmesh.destination": name})
        async with _keep_alive(msg, ack_wait_of(running.destination)):
            return await running.batcher.add((msg, event))

    async def _flush_batch(self, name: str, items: list[tuple[Msg, CloudEvent]]) -> list[Outcome]:
        """One application/cloudevents-batch+json request for the whole batch; every message settles alike."""
        running = self.running.get(name)
        if running is None:
            return [Outcome.nak(1.0, "destination_stopped")] * len(items)
        grant = await self._gate(running)
        if grant is None:
            return [Outcome.nak(1.0, "destination_stopped")] * len(items)
        attempt = max(m.metadata.num_delivered for m, _ in items)
        body = batch_body([m.data for m, _ in items])
        ids = [e.id for _, e in items]
        try:
            links = [link for _, e in items if (link := tracing.link_to(e.traceparent, e.tracestate))]
            result = await running.sender.send(batch_id(ids), body, attempt, events=len(items),
                                               content_headers={"Content-Type": BATCH_CONTENT_TYPE}, links=links)
        except DeliveryFailure as failure:
            self._observe(running, grant, failure)
            self.batches.labels(name, _result_class(failure.status)).inc()
            if failure.status == 410:
                await self._disable(running, items[0][1], failure)
                return [Outcome.nak(1.0, "destination_gone")] * len(items)
            record = record_failure(failure, attempt)
            oldest = max(_age(m) or 0.0 for m, _ in items)
            decision = after_failure(running.destination, failure, record, age=oldest)
            if decision.action == "retry":
                self.retries.labels(name).inc()
                return [Outcome.nak(decision.delay, "retry")] * len(items)
            for msg, event in items:
                await self._dead_letter(running, msg, event, failure, decision.reason, [record])
            return [Outcome("ack", reason=decision.reason)] * len(items)
        self._observe(running, grant, None, result)
        self.batches.labels(name, "2xx").inc()
        return [ACK] * len(items)

    # ------------------------------------------------------------------------------ attempt records

    async def _history(self, key: str) -> list[Attempt]:
        with contextlib.suppress(nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
            entry = await self.attempts_kv.get(key)
            if entry.value:
                with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
                    return _history_decoder.decode(entry.value)
        return []

    async def _delivered(self, key: str, attempt: int, result: Result, history: list[Attempt] | None = None) -> None:
        """After a retried event is delivered, keep its whole history (with the success) for
        `hookmesh events show`; a first-attempt success writes nothing (the hot path stays one request)."""
        if attempt <= 1:
            return
        if history is None:
            history = await self._history(key)
        history.append(Attempt(at=now_rfc3339(), attempt=attempt, status=result.status,
                               latency_ms=round(result.latency_ms, 2), excerpt=result.excerpt[:256]))
        with contextlib.suppress(nats.js.errors.Error, nats.errors.Error):
            await self.attempts_kv.put(key, msgspec.json.encode(history))

    async def _forget(self, key: str, attempt: int) -> None:
        if attempt > 1:
            with contextlib.suppress(nats.js.errors.Error, nats.errors.Error):
                await self.attempts_kv.purge(key)


def ack_wait_of(destination: Destination) -> float:
    """How long JetStream waits for an attempt's ack: the destination's timeout plus room for the attempt's
    bookkeeping (the attempts bucket, a dead letter); longer holds send in-progress acks."""
    return destination.timeout + 30


@contextlib.asynccontextmanager
async def _keep_alive(msg: Msg, ack_wait: float) -> AsyncIterator[None]:
    """Tell JetStream we are still working on `msg` (in-progress acks) while it is held."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(max(1.0, min(KEEP_ALIVE_EVERY, ack_wait / 3)))
            with contextlib.suppress(nats.errors.Error, OSError):
                await msg.in_progress()

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _age(msg: Msg) -> float | None:
    """Seconds since the message entered the deliver stream."""
    try:
        stored: datetime = msg.metadata.timestamp
    except (AttributeError, ValueError):
        return None
    return max(0.0, datetime.now(UTC).timestamp() - stored.timestamp()) if stored else None


def _result_class(status: int | None) -> str:
    return f"{status // 100}xx" if status else "error"

