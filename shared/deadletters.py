"""The dead-letter record, and how any stage writes one to `hookmesh.dlq.{stage}.{name}`."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from opentelemetry import trace

from shared import subjects, tracing
from shared.envelope import new_event_id, now_rfc3339
from shared.nats_runtime import Publisher

log = logging.getLogger("hookmesh.deadletters")


class Attempt(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One delivery attempt: when, what came back, how long it took, and what was decided next."""

    at: str
    attempt: int
    status: int | None = None
    latency_ms: float | None = None
    error: str = ""
    excerpt: str = ""
    next_delay_s: float | None = None
    backoff_cap_s: float | None = None


class DeadLetter(msgspec.Struct, kw_only=True):
    id: str
    event_id: str
    event: msgspec.Raw
    stage: str
    reason: str
    error: str
    details: dict[str, Any] = msgspec.field(default_factory=dict)
    attempts: int = 1
    history: list[Attempt] = msgspec.field(default_factory=list)
    first_failure: str
    last_failure: str
    trace_id: str = ""
    source: str = ""
    destination: str | None = None
    type: str = ""
    subject: str = ""
    replayable: bool = True


dead_letter_decoder = msgspec.json.Decoder(DeadLetter)


def replay_subject(letter: DeadLetter) -> str | None:
    """Where a replay of this dead letter is published: back into the stage that failed."""
    if not letter.replayable:
        return None
    if letter.stage == "validation":
        return subjects.ingress(letter.source)
    if letter.stage == "routing":
        return subjects.events(letter.type)
    if letter.stage == "delivery" and letter.destination:
        return subjects.deliver(letter.destination)
    return None


class DeadLetterWriter:
    def __init__(self, publisher: Publisher, stage: str) -> None:
        self.publisher = publisher
        self.stage = stage
        self.metrics = publisher.metrics

    async def write(self, *, name: str, event: bytes, event_id: str, reason: str, error: str,
                    input_seq: int, source: str = "", event_type: str = "", subject: str = "",
                    destination: str | None = None, details: dict[str, Any] | None = None,
                    history: list[Attempt] | None = None, replayable: bool = True) -> DeadLetter:
        """Publish a dead letter and wait for JetStream's ack. Raises Unavailable when not stored."""
        now = now_rfc3339()
        history = history or []
        trace_id, _ = tracing.current_ids()
        letter = DeadLetter(
            id=new_event_id(), event_id=event_id, event=msgspec.Raw(event), stage=self.stage, reason=reason,
            error=error, details=details or {}, attempts=max(1, len(history)), history=history,
            first_failure=history[0].at if history else now, last_failure=now, trace_id=trace_id,
            source=source, destination=destination, type=event_type, subject=subject, replayable=replayable)
        span = trace.get_current_span()
        span.add_event("hookmesh.dead_lettered", {"hookmesh.reason": reason, "hookmesh.dead_letter.id": letter.id})
        # Stable across redeliveries of the same input message, so a retried stage writes one dead letter.
        msg_id = f"dlq:{self.stage}:{event_id}:{input_seq}:{destination or ''}"
        await self.publisher.publish_raw(subjects.dlq(self.stage, name), msgspec.json.encode(letter),
                                         msg_id=msg_id, stream=subjects.DLQ_STREAM)
        self.metrics.dead_lettered.labels(self.metrics.service, reason).inc()
        log.warning("dead-lettered: %s", error, extra={"event_id": event_id, "reason": reason,
                                                       "stage": self.stage, "dead_letter_id": letter.id})
        return letter


def safe_event_bytes(data: bytes, limit: int = 64 * 1024) -> bytes:
    """A JSON value for bytes that are not a valid envelope: them, if JSON, else a string of them."""
    try:
        msgspec.json.decode(data)
        if len(data) <= limit:
            return data
    except msgspec.DecodeError:
        pass
    return msgspec.json.encode(data[:limit].decode("utf-8", errors="replace"))
