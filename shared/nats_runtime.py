"""The NATS runtime every service uses: connect, publish with trace context, and the pull loop.

The pull loop is credit-based: instead of `fetch()` (which waits on each batch before asking for
the next) it keeps pull requests outstanding for exactly the free handler slots, so messages keep
flowing while earlier ones are handled, and never more than `max_in_flight` are held at once.

A handler returns an Outcome. The loop acks only after the handler returned ACK, which handlers
return only once everything they published was acknowledged by JetStream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry.trace import Status, StatusCode, Tracer

from shared import tracing
from shared.envelope import CloudEvent, encode
from shared.errors import BodyTooLarge, Unavailable
from shared.metrics import StageMetrics
from shared.settings import NatsAuth, redact_url

log = logging.getLogger("hookmesh.nats")

MSG_ID = "Nats-Msg-Id"
PUBLISH_ERRORS = (nats.errors.TimeoutError, nats.errors.NoRespondersError, nats.errors.ConnectionClosedError,
                  nats.errors.ConnectionReconnectingError, nats.errors.ConnectionDrainingError,
                  nats.errors.OutboundBufferLimitError,
                  nats.js.errors.NoStreamResponseError, nats.js.errors.APIError, asyncio.TimeoutError,
                  nats.errors.StaleConnectionError)


async def connect(url: str, name: str, *, on_change: Callable[[bool], None] | None = None,
                  connect_timeout: float = 2.0, inbox_prefix: str = "_INBOX") -> NATS:
    """Connect with endless reconnects. Raises OSError-like errors only for the first connect.

    `inbox_prefix`: where replies come back (JetStream acks, API answers, pulled messages); a service's
    NATS user may subscribe only below its own (shared/natsperms.py)."""

    holder: list[NATS] = []

    async def disconnected() -> None:
        if holder and (holder[0].is_closed or holder[0].is_draining):
            return
        log.warning("disconnected from NATS; reconnecting", extra={"client": name})
        if on_change:
            on_change(False)

    async def reconnected() -> None:
        log.info("reconnected to NATS", extra={"client": name})
        if on_change:
            on_change(True)

    async def error(exc: Exception) -> None:
        if "permissions violation" in str(exc).lower():
            # The request it belongs to only times out; this line says why.
            log.error("NATS refused this: %s. The NATS user of %s lacks that permission: regenerate the "
                      "authorization block with `hookmesh nats-auth` for this hookmesh version, or check "
                      "NATS_USER", exc, name, extra={"client": name})
            return
        log.debug("NATS client error: %s", exc, extra={"client": name})

    servers = url.split(",")
    # Bounded as a whole too: a failing TLS handshake (for example an untrusted server certificate) makes
    # nats-py retry forever inside connect() without raising.
    nc = await asyncio.wait_for(nats.connect(
        servers=servers, name=f"hookmesh-{name}", connect_timeout=connect_timeout,
        # Bounded for the first connect (nats-py would otherwise retry it forever, silently);
        # unbounded once connected, so a running service rides out any outage.
        allow_reconnect=True, max_reconnect_attempts=1, reconnect_time_wait=0.5,
        ping_interval=10, max_outstanding_pings=3, disconnected_cb=disconnected,
        reconnected_cb=reconnected, error_cb=error, pending_size=8 * 1024 * 1024, inbox_prefix=inbox_prefix,
        **NatsAuth.from_env().connect_options(),
    ), timeout=connect_timeout * 2 * len(servers) + 2)
    holder.append(nc)
    nc.options["max_reconnect_attempts"] = -1
    if on_change:
        on_change(True)
    return nc


async def connect_with_retry(url: str, name: str, *, on_change: Callable[[bool], None] | None = None,
                             stop: asyncio.Event | None = None, inbox_prefix: str = "_INBOX") -> NATS:
    """Connect, retrying with a capped backoff and a log line per attempt that says what to check."""
    delay = 0.5
    while True:
        try:
            return await connect(url, name, on_change=on_change, inbox_prefix=inbox_prefix)
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            log.warning("cannot reach NATS at %s (%s); retrying in %.1fs. Is nats-server running, and is "
                        "NATS_URL right?", redact_url(url), exc or type(exc).__name__, delay, extra={"client": name})
        if stop is not None and stop.is_set():
            raise asyncio.CancelledError
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)


class PubAck(msgspec.Struct):
    """JetStream's answer to a publish."""

    stream: str = ""
    seq: int = 0
    duplicate: bool = False
    domain: str | None = None


class _PubAckReply(msgspec.Struct):
    stream: str = ""
    seq: int = 0
    duplicate: bool = False
    domain: str | None = None
    error: dict[str, Any] | None = None


_puback_decoder = msgspec.json.Decoder(_PubAckReply)


class _AckInbox:
    """Waits for JetStream publish acks on one wildcard inbox.

    What nats-py's request() does per publish (a fresh token, a timer and a wait_for) is done here
    once: futures are keyed by a counter, and one sweeper fails those past their deadline.
    """

    def __init__(self, nc: NATS) -> None:
        self.nc = nc
        self.prefix = nc.new_inbox()
        self.pending: dict[str, tuple[asyncio.Future[PubAck], float]] = {}
        self.counter = 0
        self.sub: Any = None
        self.sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.sub = await self.nc.subscribe(f"{self.prefix}.*", cb=self._on_reply)
        self.sweeper = asyncio.create_task(self._sweep())

    def expect(self, timeout: float) -> tuple[str, asyncio.Future[PubAck]]:
        self.counter += 1
        token = str(self.counter)
        future: asyncio.Future[PubAck] = asyncio.get_running_loop().create_future()
        self.pending[token] = (future, time.monotonic() + timeout)
        return f"{self.prefix}.{token}", future

    def forget(self, reply: str) -> None:
        self.pending.pop(reply.rsplit(".", 1)[1], None)

    async def _on_reply(self, msg: Msg) -> None:
        entry = self.pending.pop(msg.subject.rsplit(".", 1)[1], None)
        if entry is None or entry[0].done():
            return
        future = entry[0]
        status = (msg.headers or {}).get("Status")
        if status == "503":
            future.set_exception(nats.js.errors.NoStreamResponseError())
            return
        try:
            reply = _puback_decoder.decode(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            future.set_exception(nats.js.errors.APIError(description=f"unreadable publish ack: {exc}"))
            return
        if reply.error:
            future.set_exception(nats.js.errors.APIError.from_error(reply.error))
        else:
            future.set_result(PubAck(reply.stream, reply.seq, reply.duplicate, reply.domain))

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            now = time.monotonic()
            expired = [t for t, (_, deadline) in self.pending.items() if deadline < now]
            for token in expired:
                future, _ = self.pending.pop(token)
                if not future.done():
                    future.set_exception(nats.errors.TimeoutError())

    async def close(self) -> None:
        if self.sweeper:
            self.sweeper.cancel()
        for future, _ in self.pending.values():
            if not future.done():
                future.set_exception(nats.errors.ConnectionClosedError())
        self.pending.clear()


class Publisher:
    """Publishes to JetStream and waits for the ack; every publish is a PRODUCER span."""

    def __init__(self, nc: NATS, tracer: Tracer, metrics: StageMetrics, *, timeout: float = 5.0) -> None:
        self.nc = nc
        self.js = nc.jetstream(timeout=timeout)
        self.tracer = tracer
        self.metrics = metrics
        self.timeout = timeout
        self._acks = _AckInbox(nc)
        self._started = False
        self._published: dict[str, Any] = {}
        self._errors: dict[str, Any] = {}

    async def publish_event(self, subject: str, event: CloudEvent, *, msg_id: str, stream: str,
                            headers: dict[str, str] | None = None) -> PubAck:
        """Publish an envelope; its traceparent becomes this send span's, so readers of the body join the
        trace too. Returns the PubAck; raises Unavailable when JetStream did not acknowledge."""
        with tracing.producer_span(self.tracer, subject, message_id=event.id) as span:
            event.traceparent, event.tracestate = tracing.traceparent_of(span)
            body = encode(event)
            if span.is_recording():
                span.set_attribute("messaging.message.body.size", len(body))
                span.set_attribute("hookmesh.event.type", event.type)
            return await self._send(span, subject, body, msg_id, stream, headers,
                                    (event.traceparent, event.tracestate))

    async def publish_raw(self, subject: str, body: bytes, *, msg_id: str, stream: str,
                          headers: dict[str, str] | None = None) -> PubAck:
        with tracing.producer_span(self.tracer, subject, message_id=msg_id, body_size=len(body)) as span:
            return await self._send(span, subject, body, msg_id, stream, headers)

    def _error(self, span: Any, reason: str, detail: str) -> Unavailable:
        counter = self._errors.get(reason)
        if counter is None:
            counter = self._errors[reason] = self.metrics.publish_errors.labels(self.metrics.service, reason)
        counter.inc()
        span.set_status(Status(StatusCode.ERROR, reason))
        return Unavailable(detail, headers={"Retry-After": "5"})

    async def _send(self, span: Any, subject: str, body: bytes, msg_id: str, stream: str,
                    headers: dict[str, str] | None,
                    trace_headers: tuple[str | None, str | None] | None = None) -> PubAck:
        hdrs = dict(headers) if headers else {}
        hdrs[MSG_ID] = msg_id
        hdrs["Nats-Expected-Stream"] = stream
        if trace_headers is None:
            tracing.inject(hdrs)
        else:  # the send span's context, already formatted for the envelope
            traceparent, tracestate = trace_headers
            if traceparent:
                hdrs["traceparent"] = traceparent
            if tracestate:
                hdrs["tracestate"] = tracestate
        if not self.nc.is_connected:
            raise self._error(span, "disconnected", "not connected to NATS")
        if not self._started:
            self._started = True
            await self._acks.start()
        reply, future = self._acks.expect(self.timeout)
        try:
            await self.nc.publish(subject, body, reply=reply, headers=hdrs)
            ack = await future
        except nats.errors.MaxPayloadError:
            # Not an outage: this message can never be stored (at ingress: 413, not a 500).
            self._acks.forget(reply)
            span.set_status(Status(StatusCode.ERROR, "max_payload"))
            raise BodyTooLarge(f"the event is {len(body)} bytes as a CloudEvent; the NATS server accepts at most "
                               f"{self.nc.max_payload} (lower HOOKMESH_MAX_BODY_BYTES or raise max_payload)") from None
        except PUBLISH_ERRORS as exc:
            self._acks.forget(reply)
            reason = type(exc).__name__
            raise self._error(span, reason, f"JetStream did not acknowledge the write ({reason})") from exc
        counter = self._published.get(stream)
        if counter is None:
            counter = self._published[stream] = self.metrics.published.labels(self.metrics.service, stream)
        counter.inc()
        if ack.duplicate and span.is_recording():
            span.set_attribute("hookmesh.duplicate", True)
        return ack

    async def close(self) -> None:
        await self._acks.close()


# ------------------------------------------------------------------------------------------- outcomes

@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str  # ack | nak | term
    delay: float | None = None
    reason: str = ""

    @staticmethod
    def nak(delay: float | None = None, reason: str = "") -> Outcome:
        return Outcome("nak", delay, reason)


ACK = Outcome("ack")
TERM = Outcome("term")
Handler = Callable[[Msg], Awaitable[Outcome]]


# ------------------------------------------------------------------------------------------- consumers

async def ensure_consumer(js: JetStreamContext, stream: str, durable: str, filter_subject: str, *,
                          ack_wait: float = 30.0, max_ack_pending: int = 1000, description: str = "",
                          pinned_group: str | None = None, pinned_timeout: float = 30.0) -> None:
    """Create the durable pull consumer, or update it in place; its position is never reset.

    With `pinned_group`, the consumer uses the `pinned_client` priority policy (NATS 2.11+, ADR-42):
    of all the replicas pulling, the server hands messages to one, and moves to another only after
    the pinned one has not pulled for `pinned_timeout` seconds — one active reader, with failover.
    """
    config = ConsumerConfig(
        durable_name=durable, name=durable, description=description or None,
        ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL, filter_subject=filter_subject,
        ack_wait=ack_wait, max_deliver=-1, max_ack_pending=max_ack_pending, max_waiting=512,
    )
    if pinned_group is None:
        await js.add_consumer(stream, config)
        return
    # nats-py's ConsumerConfig has no priority-group fields yet, so this one goes to the API directly.
    body = {"stream_name": stream, "config": {**config.as_dict(), "priority_groups": [pinned_group],
                                              "priority_policy": "pinned_client",
                                              "priority_timeout": int(pinned_timeout * 1e9)}}
    reply = await js._nc.request(f"$JS.API.CONSUMER.CREATE.{stream}.{durable}", msgspec.json.encode(body),
                                 timeout=5.0)
    answer = msgspec.json.decode(reply.data)
    if "error" in answer:
        raise nats.js.errors.APIError.from_error(answer["error"])


class PullConsumer:
    """Runs a handler over a durable pull consumer with at most `max_in_flight` messages held."""

    def __init__(self, nc: NATS, stream: str, durable: str, handler: Handler, *, tracer: Tracer,
                 metrics: StageMetrics, max_in_flight: int = 64, expires: float = 10.0,
                 heartbeat: float = 2.0, nak_delay_on_error: float = 2.0, handback_delay: float = 2.0,
                 pinned_group: str | None = None) -> None:
        self.nc = nc
        self.stream = stream
        self.durable = durable
        self.handler = handler
        self.tracer = tracer
        self.metrics = metrics
        self.max_in_flight = max_in_flight
        self.expires = expires
        self.heartbeat = heartbeat
        self.nak_delay_on_error = nak_delay_on_error
        # Messages handed back during a drain wait this long before redelivery, so the server does not
        # send them straight back to this consumer's still-outstanding pull requests.
        self.handback_delay = handback_delay
        self._last_arrival = 0.0
        # For a pinned_client consumer: the group every pull names, and the pin id the server gave us.
        self.pinned_group = pinned_group
        self.pin_id: str | None = None
        self._next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._requested = 0
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._batch_floor = max(1, max_in_flight // 4)
        self._last_seen = time.monotonic()
        self._stopping = False
        self._paused = False
        self._sub: Any = None
        self._pump: asyncio.Task[None] | None = None
        self.healthy = False
        self.last_error = ""
        self._gauge = metrics.in_flight.labels(metrics.service, durable)
        self._seconds = metrics.handle_seconds.labels(metrics.service, durable)
        self._outcomes: dict[str, Any] = {}

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def start(self) -> None:
        inbox = self.nc.new_inbox()
        self._sub = await self.nc.subscribe(inbox, cb=self._on_message)
        self._inbox = inbox
        self._pump = asyncio.create_task(self._pump_loop(), name=f"pull-{self.durable}")

    def pause(self, paused: bool) -> None:
        self._paused = paused
        self._wake.set()

    def reset_credits(self) -> None:
        """Forget outstanding pull requests (after a reconnect the server may have dropped them)."""
        self._requested = 0
        self._wake.set()

    async def _pump_loop(self) -> None:
        batch_floor = self._batch_floor
        while not self._stopping:
            self._wake.clear()  # before reading the counters, so a wake during the publish below is kept
            idle = time.monotonic() - self._last_seen
            if self._requested and idle > self.expires + 2 * self.heartbeat:
                self._requested = 0  # requests were lost (reconnect, leader change): ask again
            free = self.max_in_flight - self._in_flight - self._requested
            if not self._paused and self.nc.is_connected and (free >= batch_floor or
                                                               (free > 0 and self._requested == 0)):
                request: dict[str, Any] = {"batch": free, "expires": int(self.expires * 1e9),
                                           "idle_heartbeat": int(self.heartbeat * 1e9)}
                if self.pinned_group:
                    request["group"] = self.pinned_group
                    if self.pin_id:
                        request["id"] = self.pin_id
                try:
                    await self.nc.publish(self._next_subject, msgspec.json.encode(request), reply=self._inbox)
                    self._requested += free
                    self._last_seen = time.monotonic()
                except (nats.errors.Error, OSError) as exc:
                    self.last_error = str(exc)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.heartbeat)

    async def _on_message(self, msg: Msg) -> None:
        self._last_seen = time.monotonic()
        if not msg.data and msg.headers and "Status" in msg.headers:
            self._on_status(msg)
            return
        if msg.headers is None and not msg.data and not msg.reply:
            return
        self._requested = max(0, self._requested - 1)
        if self.pinned_group and msg.headers and (pin := msg.headers.get("Nats-Pin-Id")) and pin != self.pin_id:
            self.pin_id = pin
            log.info("%s: this replica is now the pinned reader", self.durable)
        if self._stopping:
            self._last_arrival = time.monotonic()
            with contextlib.suppress(Exception):
                await msg.nak(delay=self.handback_delay)
            return
        self._in_flight += 1
        self._gauge.inc()
        task = asyncio.create_task(self._handle(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_status(self, msg: Msg) -> None:
        headers = msg.headers or {}
        status = headers.get("Status", "")
        if status == "100":
            self.healthy = True
            return
        pending = headers.get("Nats-Pending-Messages")
        if pending is not None:
            self._requested = max(0, self._requested - int(pending))
        elif status in ("404", "408"):
            self._requested = 0
        if status == "423" and self.pinned_group:
            # Our pin id is stale: another replica is pinned now. Forget it and pull as a stand-by.
            if self.pin_id:
                log.info("%s: another replica is the pinned reader now", self.durable)
            self.pin_id = None
            self._requested = 0
        if status == "409":
            description = headers.get("Description", "")
            self.last_error = description
            if "Deleted" in description or "Leadership" in description:
                self._requested = 0
            log.warning("pull request on %s answered 409: %s", self.durable, description)
        self._wake.set()

    async def _handle(self, msg: Msg) -> None:
        started = time.perf_counter()
        outcome = Outcome.nak(self.nak_delay_on_error, "handler_error")
        try:
            with tracing.consumer_span(self.tracer, msg.subject, msg.headers, consumer=self.durable,
                                       body_size=len(msg.data)) as span:
                try:
                    outcome = await self.handler(msg)
                except Unavailable as exc:
                    outcome = Outcome.nak(self.nak_delay_on_error, "unavailable")
                    span.set_status(Status(StatusCode.ERROR, str(exc)))
                    log.warning("%s: output not acknowledged, will retry: %s", self.durable, exc)
                except asyncio.CancelledError:
                    outcome = Outcome.nak(self.handback_delay, "cancelled")
                    raise
                except Exception as exc:
                    span.record_exception(exc)
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                    log.exception("%s: handler failed; the message will be redelivered", self.durable)
        finally:
            await self._settle(msg, outcome)
            label = outcome.reason or outcome.kind
            counter = self._outcomes.get(label)
            if counter is None:
                counter = self._outcomes[label] = self.metrics.messages.labels(self.metrics.service, self.durable,
                                                                               label)
            counter.inc()
            self._seconds.observe(time.perf_counter() - started)
            self._in_flight -= 1
            self._gauge.dec()
            # Wake the pump only when it would ask for more: a wake per message costs more than the message.
            if (self._requested == 0 or self._stopping
                    or self.max_in_flight - self._in_flight - self._requested >= self._batch_floor):
                self._wake.set()

    async def _settle(self, msg: Msg, outcome: Outcome) -> None:
        try:
            if outcome.kind == "ack":
                await msg.ack()
            elif outcome.kind == "term":
                await msg.term()
            else:
                await msg.nak(delay=outcome.delay)
        except (nats.errors.Error, OSError) as exc:
            # The server redelivers after ack_wait; at-least-once holds, and outputs are deduplicated.
            log.warning("%s: could not %s a message: %s", self.durable, outcome.kind, exc)

    async def _linger(self, quiet: float = 0.3, limit: float = 1.0) -> None:
        """While messages still arrive for our outstanding pull requests, keep the inbox open and hand
        them back; a message sent to an unsubscribed inbox would sit out ack_wait before redelivery.
        An idle consumer (nothing arrived since the drain began) does not wait at all."""
        deadline = time.monotonic() + limit
        while self._last_arrival and self._requested and time.monotonic() < deadline:
            if time.monotonic() - self._last_arrival >= quiet:
                break
            await asyncio.sleep(0.05)

    async def stop(self, grace: float) -> None:
        """Stop asking for messages, let in-flight ones finish within `grace`, hand back the rest."""
        self._stopping = True
        self._wake.set()
        if self._pump:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=2.0)
        await self._linger()
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
