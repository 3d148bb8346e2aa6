"""Consumer services: read validated events from `hookmesh.events.>` directly, each event id once.

A consumer service (named under `consumers:` in the configuration) runs an EventConsumer:

    nc = await consumer.connect(nats_url, "invoicing", user="invoicing", password=secret)
    reader = consumer.EventConsumer(nc, name="invoicing", types=["com.acme.order.created"], handler=on_order)
    await reader.start()          # durable pull consumer `consumer_invoicing` on HOOKMESH_EVENTS
    ...
    await reader.stop(grace=10)

`handler(event)` gets the decoded CloudEvent, inside a span that continues the event's trace. It
returns normally when done (the message is acked), raises `Retry(delay)` to be called again later,
or raises anything else to be retried with a growing delay. It is called once per event id: before
calling it the consumer claims the id in a KV bucket (`hookmesh_processed_<name>`, records expire
after `ttl`), marks it done afterwards, and acks only then; a redelivery or a second copy of the
same event finds the record and is acked without a call. A claim is a lease (`lease`, also the
ack wait): if a replica dies while handling, another takes over once it lapses. Exactly-once holds
for the record, not for side effects outside it: a crash between the handler's side effect and the
record means one more call, so side effects should be idempotent by event id too (at-least-once).

With nats-server authorization (`hookmesh nats-auth`), the operator provisions the durable and the
bucket (`hookmesh nats-auth --provision`); the consumer only binds to them, and can neither widen its
filter nor read another type. Without authorization (development), `start()` creates both.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, KeyValueConfig, StorageType
from nats.js.kv import KeyValue
from opentelemetry import trace
from opentelemetry.trace import Tracer

from shared import subjects, tracing
from shared.envelope import CloudEvent, decode
from shared.errors import HookmeshError, MalformedEnvelope
from shared.metrics import StageMetrics, new_registry
from shared.nats_runtime import ACK, Outcome, PullConsumer

log = logging.getLogger("hookmesh.consumer")

DEFAULT_TTL = 7 * 86400.0  # as long as HOOKMESH_EVENTS keeps events: older ones cannot come back
Handler = Callable[[CloudEvent], Awaitable[None]]
_KEY_RE = re.compile(r"^[-/_=.a-zA-Z0-9]+$")


class Retry(Exception):
    """Raised by a handler: not now, call me again for this event after `delay` seconds."""

    def __init__(self, delay: float = 5.0, reason: str = "") -> None:
        super().__init__(reason or f"retry in {delay}s")
        self.delay = delay


class ConsumerNotProvisioned(HookmeshError):
    """The durable or the bucket is missing or different, and this connection may not create it."""


class _Record(msgspec.Struct, kw_only=True):
    state: str  # processing | done
    owner: str
    at: float
    lease_until: float = 0.0


_record_decoder = msgspec.json.Decoder(_Record)


def _covers(pattern: str, subject: str) -> bool:
    """True when NATS wildcard `pattern` matches every message `subject` (itself maybe a wildcard) does."""
    want, have = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]) or (token == "*" and have[i] == ">"):
            return False
    return len(want) == len(have)


def filter_subjects(types: list[str]) -> list[str]:
    """The durable's filter subjects; ones another covers are left out (JetStream refuses overlaps)."""
    wanted = sorted({subjects.events(t) for t in types})
    return [s for s in wanted if not any(o != s and _covers(o, s) for o in wanted)]


def record_key(event_id: str) -> str:
    """The KV key for an event id (ids hookmesh mints are UUIDs; anything else is hashed to a safe key)."""
    if _KEY_RE.match(event_id) and not event_id.startswith(".") and not event_id.endswith("."):
        return event_id
    return "h_" + hashlib.sha256(event_id.encode()).hexdigest()


def durable_config(name: str, types: list[str], *, lease: float = 30.0, max_ack_pending: int = 1000) -> ConsumerConfig:
    durable = subjects.consumer_durable(name)
    return ConsumerConfig(
        durable_name=durable, name=durable, description=f"hookmesh consumer service {name}",
        ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL, filter_subjects=filter_subjects(types),
        ack_wait=lease, max_deliver=-1, max_ack_pending=max_ack_pending, max_waiting=512)


async def provision(js: JetStreamContext, name: str, types: list[str], *, ttl: float = DEFAULT_TTL,
                    lease: float = 30.0, replicas: int = 1) -> None:
    """Create or update a consumer service's durable (filtered to its types) and its idempotency bucket."""
    await js.add_consumer(subjects.EVENTS_STREAM, durable_config(name, types, lease=lease))
    bucket = subjects.consumer_bucket(name)
    try:
        await js.key_value(bucket)
    except nats.js.errors.BucketNotFoundError:
        with contextlib.suppress(nats.js.errors.BadRequestError):  # created concurrently
            await js.create_key_value(KeyValueConfig(
                bucket=bucket, history=1, ttl=ttl, replicas=replicas, storage=StorageType.FILE,
                description=f"event ids processed by consumer service {name}"))


async def connect(url: str, name: str, *, user: str | None = None, password: str | None = None,
                  connect_timeout: float = 2.0, **options: Any) -> NATS:
    """Connect as consumer service `name`, with its own inbox prefix (what `hookmesh nats-auth` allows).
    `options` go to nats.connect (for example error_cb)."""
    nc = await nats.connect(
        servers=url.split(","), name=f"hookmesh-consumer-{name}", user=user, password=password,
        inbox_prefix=subjects.consumer_inbox(name), connect_timeout=connect_timeout, allow_reconnect=True,
        max_reconnect_attempts=1, reconnect_time_wait=0.5, ping_interval=10, max_outstanding_pings=3, **options)
    nc.options["max_reconnect_attempts"] = -1  # bounded for the first connect, endless once connected
    return nc


class EventConsumer:
    """Runs `handler` once per event id over the durable pull consumer of consumer service `name`."""

    def __init__(self, nc: NATS, *, name: str, types: list[str], handler: Handler, tracer: Tracer | None = None,
                 metrics: StageMetrics | None = None, max_in_flight: int = 16, lease: float = 30.0,
                 ttl: float = DEFAULT_TTL, create: bool = True, api_timeout: float = 2.0,
                 busy_retry: float = 1.0) -> None:
        if not subjects.NAME_RE.match(name):
            raise ValueError(f"{name!r} is not a valid consumer name (lowercase letters, digits, '-', '_')")
        if not types:
            raise ValueError("name at least one event type to read")
        self.nc = nc
        self.name = name
        self.types = list(types)
        self.handler = handler
        self.tracer = tracer or tracing.tracer_for(f"consumer-{name}")
        self.metrics = metrics or StageMetrics(new_registry(), f"consumer-{name}")
        self.max_in_flight = max_in_flight
        self.lease = lease
        self.ttl = ttl
        self.create = create
        self.busy_retry = busy_retry
        self.js = nc.jetstream(timeout=api_timeout)
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.durable = subjects.consumer_durable(name)
        self.pull: PullConsumer | None = None
        self.processed = 0
        self.duplicates = 0

    async def start(self) -> None:
        await self._bind()
        self.kv = await self._bucket()
        self.pull = PullConsumer(self.nc, subjects.EVENTS_STREAM, self.durable, self._handle, tracer=self.tracer,
                                 metrics=self.metrics, max_in_flight=self.max_in_flight)
        await self.pull.start()
        log.info("consumer %s reading %s", self.name, ", ".join(self.types))

    async def stop(self, grace: float = 10.0) -> None:
        if self.pull is not None:
            await self.pull.stop(grace)

    async def _bind(self) -> None:
        wanted = filter_subjects(self.types)
        try:
            info = await self.js.consumer_info(subjects.EVENTS_STREAM, self.durable)
            config = info.config
            current = sorted(config.filter_subjects or ([config.filter_subject] if config.filter_subject else []))
            if current == wanted:
                return
            problem = f"durable {self.durable} reads {current}, not {wanted}"
        except nats.js.errors.NotFoundError:
            problem = f"durable {self.durable} does not exist on {subjects.EVENTS_STREAM}"
        except (TimeoutError, nats.errors.TimeoutError):
            raise ConsumerNotProvisioned(f"no answer about durable {self.durable}: is consumer {self.name} allowed "
                                         "to read it? (see `hookmesh nats-auth`)") from None
        if not self.create:
            raise ConsumerNotProvisioned(f"{problem}; the operator provisions it with `hookmesh nats-auth "
                                         "--provision`")
        try:
            await self.js.add_consumer(subjects.EVENTS_STREAM, durable_config(self.name, self.types,
                                                                              lease=self.lease))
        except (TimeoutError, nats.errors.TimeoutError, nats.js.errors.APIError) as exc:
            raise ConsumerNotProvisioned(f"{problem}, and creating it was refused ({type(exc).__name__}): the "
                                         f"types {self.types} are not all granted to consumer {self.name}, or "
                                         "the operator must run `hookmesh nats-auth --provision`") from None

    async def _bucket(self) -> KeyValue:
        bucket = subjects.consumer_bucket(self.name)
        try:
            return await self.js.key_value(bucket)
        except nats.js.errors.BucketNotFoundError:
            if not self.create:
                raise ConsumerNotProvisioned(f"bucket {bucket} does not exist; run `hookmesh nats-auth "
                                             "--provision`") from None
        except (TimeoutError, nats.errors.TimeoutError):
            raise ConsumerNotProvisioned(f"no answer about bucket {bucket}: is consumer {self.name} allowed "
                                         "to use it?") from None
        with contextlib.suppress(nats.js.errors.BadRequestError):  # created concurrently by another replica
            await self.js.create_key_value(KeyValueConfig(
                bucket=bucket, history=1, ttl=self.ttl, storage=StorageType.FILE,
                description=f"event ids processed by consumer service {self.name}"))
        return await self.js.key_value(bucket)

    # ----------------------------------------------------------------------------------------- handling

    def _record(self, state: str) -> bytes:
        now = time.time()
        return msgspec.json.encode(_Record(state=state, owner=self.owner, at=now, lease_until=now + self.lease))

    async def _claim(self, key: str) -> int | Outcome:
        """The revision of our claim on `key`, or the Outcome when it is done or held by someone else."""
        kv = self.kv
        try:
            return int(await kv.create(key, self._record("processing")))
        except nats.js.errors.KeyWrongLastSequenceError:
            pass
        try:
            entry = await kv.get(key)
            record = _record_decoder.decode(entry.value or b"")
        except nats.js.errors.KeyNotFoundError:
            return Outcome.nak(0.1, "claim_race")  # released a moment ago: try again
        except (msgspec.DecodeError, msgspec.ValidationError):
            record = _Record(state="processing", owner="?", at=0.0)
        if record.state == "done":
            return Outcome("ack", reason="duplicate")
        remaining = record.lease_until - time.time()
        if remaining > 0:
            # Another replica is handling this id: look again soon, when it has most likely finished.
            return Outcome.nak(min(remaining, self.busy_retry), "claimed_elsewhere")
        try:  # the claim lapsed (its holder died): take it over
            return int(await kv.update(key, self._record("processing"), last=entry.revision))
        except nats.js.errors.KeyWrongLastSequenceError:
            return Outcome.nak(0.1, "claim_race")

    async def _handle(self, msg: Msg) -> Outcome:
        try:
            event = decode(msg.data)
        except MalformedEnvelope as exc:
            log.error("consumer %s: not a CloudEvent at %s (sequence %s), terminated: %s", self.name, msg.subject,
                      msg.metadata.sequence.stream, exc)
            return Outcome("term", reason="malformed_envelope")
        span = trace.get_current_span()
        span.set_attributes({"hookmesh.event.id": event.id, "hookmesh.event.type": event.type})
        key = record_key(event.id)
        claim = await self._claim(key)
        if isinstance(claim, Outcome):
            if claim.reason == "duplicate":
                self.duplicates += 1
                span.set_attribute("hookmesh.duplicate", True)
            return claim
        parent = None
        if not (msg.headers or {}).get("traceparent") and event.traceparent:
            # Published without trace headers: the envelope still carries the trace.
            parent = tracing.extract({"traceparent": event.traceparent, "tracestate": event.tracestate or ""})
        try:
            with self.tracer.start_as_current_span(f"handle {event.type}", context=parent,
                                                   attributes={"hookmesh.event.id": event.id,
                                                               "hookmesh.consumer": self.name}):
                await self.handler(event)
        except Retry as exc:
            await self._release(key, claim)
            return Outcome.nak(exc.delay, "retry")
        except Exception:
            log.exception("consumer %s: handler failed for event %s; it will be called again", self.name, event.id)
            await self._release(key, claim)
            attempt = msg.metadata.num_delivered or 1
            return Outcome.nak(min(60.0, 0.5 * 2 ** (attempt - 1)), "handler_error")
        try:
            await self.kv.update(key, self._record("done"), last=claim)
        except nats.js.errors.KeyWrongLastSequenceError:
            log.warning("consumer %s: the claim on %s lapsed while handling (lease %.0fs); another replica may "
                        "handle it too", self.name, event.id, self.lease)
        self.processed += 1
        return ACK

    async def _release(self, key: str, revision: int) -> None:
        with contextlib.suppress(nats.js.errors.Error, nats.errors.Error):
            await self.kv.delete(key, last=revision)
