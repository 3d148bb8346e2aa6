"""Replaying a dead letter: publish its event back into the stage that failed, once."""

from __future__ import annotations

from opentelemetry import context as otel_context

from shared import subjects, tracing
from shared.deadletters import DeadLetter, replay_subject
from shared.envelope import decode
from shared.errors import Conflict
from shared.nats_runtime import Publisher

STREAM_OF_PREFIX = {
    "hookmesh.ingress.": subjects.INGRESS_STREAM,
    "hookmesh.events.": subjects.EVENTS_STREAM,
    "hookmesh.deliver.": subjects.DELIVER_STREAM,
}


async def replay(publisher: Publisher, letter: DeadLetter) -> str:
    """Publish the event (same event id, so receivers see the same webhook-id); returns the subject.

    The message id is derived from the dead letter's id, so replaying one dead letter twice within
    the stream's duplicate window stores it once; the status bucket guards beyond that window.
    """
    subject = replay_subject(letter)
    if subject is None:
        raise Conflict(f"a {letter.reason} dead letter from {letter.stage} cannot be replayed: it holds no "
                       "event hookmesh can read. Discard it once you have looked at it.")
    stream = next(s for prefix, s in STREAM_OF_PREFIX.items() if subject.startswith(prefix))
    event = decode(bytes(letter.event))
    # Continue the event's own trace, so the replay shows up in the same trace as the failure.
    token = otel_context.attach(tracing.extract({"traceparent": event.traceparent or "",
                                                 "tracestate": event.tracestate or ""}))
    try:
        await publisher.publish_event(subject, event, msg_id=f"replay:{letter.id}", stream=stream,
                                      headers={"Hookmesh-Replay-Of": letter.id})
    finally:
        otel_context.detach(token)
    return subject
