"""Operational events: for every dead letter, a CloudEvent on `hookmesh.events.com.hookmesh.>`.

`com.hookmesh.delivery.failed` (delivery stage) and `com.hookmesh.event.rejected` (validation,
routing) are routable like any other event, so a route can send them to a no-code builder's webhook
to run a compensating step, or to on-call. A durable consumer over HOOKMESH_DLQ publishes them
at-least-once: it acks a dead letter only after JetStream acknowledged the operational event, whose
Nats-Msg-Id and event id are both derived from the dead letter's id (a receiver can dedup on
`webhook-id`). hookmesh never emits one about its own `com.hookmesh.*` events, so a failing route
for operational events cannot loop.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import msgspec
from nats.aio.msg import Msg
from opentelemetry import trace
from prometheus_client import CollectorRegistry, Counter

from shared import subjects
from shared.deadletters import DeadLetter, dead_letter_decoder
from shared.envelope import CloudEvent, decode, new_event
from shared.errors import MalformedEnvelope
from shared.nats_runtime import ACK, Outcome, Publisher

log = logging.getLogger("hookmesh.deadletter.opsevents")

SYSTEM_SOURCE = "/hookmesh/system"
OPERATIONAL_PREFIX = "com.hookmesh."
DELIVERY_FAILED = "com.hookmesh.delivery.failed"
EVENT_REJECTED = "com.hookmesh.event.rejected"
CONSUMER = subjects.OPS_EVENTS_CONSUMER


def derived_event_id(letter_id: str, kind: str) -> str:
    """A UUIDv7-shaped id that is the same for every attempt: the dead letter's millisecond time (so
    ids stay time-ordered) followed by bits of a hash of (dead letter id, kind)."""
    hex_id = letter_id.replace("-", "")
    millis = hex_id[:12] if len(hex_id) == 32 and all(c in "0123456789abcdef" for c in hex_id) else "0" * 12
    digest = hashlib.sha256(f"{letter_id}:{kind}".encode()).hexdigest()
    variant = "89ab"[int(digest[15], 16) % 4]
    h = f"{millis}7{digest[:3]}{variant}{digest[3:18]}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _original(letter: DeadLetter) -> CloudEvent | None:
    try:
        return decode(bytes(letter.event))
    except MalformedEnvelope:
        return None


def operational_event(letter: DeadLetter, *, api_base: str) -> CloudEvent | None:
    """The operational event announcing this dead letter, or None when none must be sent."""
    original = _original(letter)
    event_type = letter.type or (original.type if original else "")
    if event_type.startswith(OPERATIONAL_PREFIX):
        return None  # about hookmesh's own event: announcing it could loop
    kind = DELIVERY_FAILED if letter.stage == "delivery" else EVENT_REJECTED
    link = f"{api_base.rstrip('/')}/v1/dead-letters/{letter.id}"
    data: dict[str, Any] = {
        "dead_letter_id": letter.id,
        "event_id": letter.event_id,
        "event_type": event_type,
        "stage": letter.stage,
        "reason": letter.reason,
        "error": letter.error[:2048],
        "source": letter.source,
        "destination": letter.destination,
        "attempts": letter.attempts,
        "first_failure": letter.first_failure,
        "last_failure": letter.last_failure,
        "trace_id": letter.trace_id,
        "replayable": letter.replayable,
        "links": {"dead_letter": link, "replay": f"{link}/replay"},
    }
    if "status" in letter.details:
        data["status"] = letter.details["status"]
    event = new_event(
        id=derived_event_id(letter.id, kind), source=SYSTEM_SOURCE, type=kind, time=letter.last_failure,
        subject=letter.event_id or None, datacontenttype="application/json",
        data=msgspec.Raw(msgspec.json.encode(data)))
    if original is not None:
        # Keep what routes filter and sovereignty rules read: an EU event's failure stays an EU event.
        event.region = original.region
        event.correlationid = original.correlationid or original.id
        event.partitionkey = original.partitionkey
    return event


class OperationalEvents:
    """The handler of the durable consumer over HOOKMESH_DLQ that publishes operational events."""

    def __init__(self, publisher: Publisher, registry: CollectorRegistry, *, api_base: str) -> None:
        self.publisher = publisher
        self.api_base = api_base
        self.emitted = Counter("hookmesh_operational_events_total", "Operational events published, by type",
                               ["type"], registry=registry)
        self.skipped = Counter("hookmesh_operational_events_skipped_total", "Dead letters announced by no "
                               "operational event, by why", ["why"], registry=registry)

    async def handle(self, msg: Msg) -> Outcome:
        try:
            letter = dead_letter_decoder.decode(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            self.skipped.labels("unreadable").inc()
            log.error("unreadable dead letter at DLQ sequence %s; no operational event", msg.metadata.sequence.stream)
            return Outcome("ack", reason="unreadable")
        event = operational_event(letter, api_base=self.api_base)
        if event is None:
            self.skipped.labels("hookmesh_event").inc()
            return Outcome("ack", reason="hookmesh_event")
        trace.get_current_span().set_attribute("hookmesh.dead_letter.id", letter.id)
        # Returns only once JetStream acknowledged; Unavailable makes the loop nak and retry.
        await self.publisher.publish_event(subjects.events(event.type), event, msg_id=f"ops:{letter.id}",
                                           stream=subjects.EVENTS_STREAM)
        self.emitted.labels(event.type).inc()
        return ACK
