"""Replaying a dead letter: publish its event back into the stage that failed, once.

Three kinds of replay, all idempotent:

- plain: the same event (same id, so receivers see the same `webhook-id`) into the failed stage;
- redirected: a delivery-stage event to another destination (`{"destination": "other"}`);
- edited: a new event with new `data` and a new id, linked to the old one by the `replayof`
  extension attribute (`{"data": {...}}`), into the failed stage where it is checked again.

The Nats-Msg-Id is derived from the dead letter's id and the request, so the same request twice
within the stream's duplicate window is stored once; the status bucket remembers it beyond that.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import msgspec
from opentelemetry import context as otel_context

from shared import subjects, tracing
from shared.deadletters import DeadLetter, replay_subject
from shared.envelope import CloudEvent, decode, new_event_id, now_rfc3339
from shared.errors import Conflict, MalformedEnvelope, Unprocessable
from shared.nats_runtime import Publisher

STREAM_OF_PREFIX = {
    "hookmesh.ingress.": subjects.INGRESS_STREAM,
    "hookmesh.events.": subjects.EVENTS_STREAM,
    "hookmesh.deliver.": subjects.DELIVER_STREAM,
}


class ReplayRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The optional body of `POST /v1/dead-letters/{id}/replay`."""

    destination: str | None = None
    data: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET

    @property
    def edited(self) -> bool:
        return self.data is not msgspec.UNSET

    def fingerprint(self) -> str:
        """Equal for equal requests: how a repeated request is told from a different one."""
        if self.destination is None and not self.edited:
            return "plain"
        data = b"" if self.data is msgspec.UNSET else canonical_json(bytes(self.data))
        digest = hashlib.sha256((self.destination or "").encode() + b"\0" + data).hexdigest()
        return digest[:24]


request_decoder = msgspec.json.Decoder(ReplayRequest)


def canonical_json(raw: bytes) -> bytes:
    """The same JSON value always gives the same bytes (sorted keys, no spaces)."""
    return msgspec.json.encode(msgspec.json.decode(raw), order="sorted")


@dataclass(frozen=True)
class ReplayPlan:
    subject: str
    stream: str
    event: CloudEvent
    msg_id: str
    original_event_id: str
    destination: str | None
    edited: bool
    fingerprint: str


def plan(letter: DeadLetter, request: ReplayRequest, destinations: set[str]) -> ReplayPlan:
    """Decide what a replay publishes, where; raise Conflict or Unprocessable when it cannot be done."""
    subject = replay_subject(letter)
    if subject is None:
        raise Conflict(f"a {letter.reason} dead letter from {letter.stage} cannot be replayed: it holds no "
                       "event hookmesh can read. Discard it once you have looked at it.")
    if request.destination is not None:
        if letter.stage != "delivery":
            raise Unprocessable(f"only delivery-stage dead letters can be replayed to another destination; this "
                                f"one failed at {letter.stage}, so it is replayed into {letter.stage} again")
        if request.destination not in destinations:
            known = ", ".join(sorted(destinations)) or "none"
            raise Unprocessable(f"unknown destination {request.destination!r}; configured destinations: {known}",
                                extra={"destinations": sorted(destinations)})
        subject = subjects.deliver(request.destination)
    try:
        event = decode(bytes(letter.event))
    except MalformedEnvelope as exc:
        raise Conflict(f"the dead letter's event cannot be read: {exc}") from None
    original_id = event.id
    if request.edited:
        extras = event.extras
        event = msgspec.structs.replace(event, id=new_event_id(), data=request.data, replayof=original_id,
                                        time=now_rfc3339())
        event.extras = extras
    stream = next(s for prefix, s in STREAM_OF_PREFIX.items() if subject.startswith(prefix))
    fingerprint = request.fingerprint()
    msg_id = f"replay:{letter.id}" if fingerprint == "plain" else f"replay:{letter.id}:{fingerprint}"
    return ReplayPlan(subject, stream, event, msg_id, original_id, request.destination, request.edited,
                      fingerprint)


async def publish(publisher: Publisher, letter_id: str, replay: ReplayPlan) -> str:
    """Publish the planned event and return the id it was stored with.

    When JetStream reports a duplicate (an earlier attempt of this very request was stored), the id is
    read back from the stored message, so an edited replay never reports an id that was not sent.
    """
    event = replay.event
    # Continue the event's own trace, so the replay shows up in the same trace as the failure.
    token = otel_context.attach(tracing.extract({"traceparent": event.traceparent or "",
                                                 "tracestate": event.tracestate or ""}))
    try:
        ack = await publisher.publish_event(replay.subject, event, msg_id=replay.msg_id, stream=replay.stream,
                                            headers={"Hookmesh-Replay-Of": letter_id})
    finally:
        otel_context.detach(token)
    if ack.duplicate and replay.edited:
        stored = await publisher.js.get_msg(replay.stream, ack.seq)
        return decode(stored.data or b"").id
    return event.id
