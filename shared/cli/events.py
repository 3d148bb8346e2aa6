"""`hookmesh events show ID`: one event's timeline across stages and delivery attempts, with its trace id.

Event ids are UUIDv7, so the id says when the event was accepted: each stream is read from a little
before that moment, forward, for at most `--scan` messages (a bounded search, never a full scan).
The attempts bucket adds the per-attempt records of retried deliveries; the dead letters add theirs.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import nats.errors
import nats.js.errors
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from shared import subjects
from shared.envelope import decode
from shared.errors import MalformedEnvelope

STAGES = ((subjects.INGRESS_STREAM, subjects.INGRESS_ALL, "accepted"),
          (subjects.EVENTS_STREAM, subjects.EVENTS_ALL, "validated"),
          (subjects.DELIVER_STREAM, subjects.DELIVER_ALL, "routed"),
          (subjects.DLQ_STREAM, subjects.DLQ_ALL, "dead-lettered"))


@dataclass
class Step:
    at: str
    stage: str
    subject: str
    detail: str = ""
    seq: int = 0


@dataclass
class Timeline:
    event_id: str
    trace_id: str = ""
    type: str = ""
    source: str = ""
    steps: list[Step] = field(default_factory=list)
    attempts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="events_command", required=True)
    show = sub.add_parser("show", help="an event's timeline across stages and attempts, with its trace id")
    show.add_argument("id")
    show.add_argument("--scan", type=int, default=20_000, help="at most this many messages read per stream")
    show.add_argument("-o", "--output", choices=("text", "json"), default="text")


def id_time(event_id: str) -> datetime | None:
    """The millisecond a UUIDv7 was made; None for other ids."""
    hexed = event_id.replace("-", "")
    if len(hexed) != 32 or hexed[12] != "7":
        return None
    try:
        return datetime.fromtimestamp(int(hexed[:12], 16) / 1000, UTC)
    except ValueError:
        return None


def _iso(when: datetime | None) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") if when else ""


async def _scan(js: Any, stream: str, subject: str, event_id: str, start: datetime | None, limit: int
                ) -> list[Any]:
    config = ConsumerConfig(ack_policy=AckPolicy.NONE, inactive_threshold=30.0, mem_storage=True,
                            deliver_policy=DeliverPolicy.BY_START_TIME if start else DeliverPolicy.ALL,
                            opt_start_time=_iso(start) if start else None)
    sub = await js.pull_subscribe(subject, stream=stream, config=config)
    needle = event_id.encode()
    found, read = [], 0
    try:
        while read < limit:
            try:
                msgs = await sub.fetch(min(500, limit - read), timeout=0.5)
            except (nats.errors.TimeoutError, TimeoutError):
                break
            read += len(msgs)
            found += [m for m in msgs if needle in m.data]
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    return found


async def timeline(js: Any, event_id: str, *, scan: int = 20_000) -> Timeline:
    result = Timeline(event_id)
    accepted = id_time(event_id)
    start = accepted - timedelta(seconds=5) if accepted else None
    for stream, subject, stage in STAGES:
        for msg in await _scan(js, stream, subject, event_id, start, scan):
            at = _iso(msg.metadata.timestamp)
            seq = msg.metadata.sequence.stream
            if stream == subjects.DLQ_STREAM:
                letter = msgspec.json.decode(msg.data)
                if letter.get("event_id") != event_id:
                    continue
                result.trace_id = result.trace_id or letter.get("trace_id", "")
                where = letter.get("destination") or letter.get("source") or ""
                result.steps.append(Step(at, stage, msg.subject, f"{letter.get('stage')} {where}: "
                                         f"{letter.get('reason')} — {letter.get('error', '')[:160]}", seq))
                if letter.get("history"):
                    result.attempts.setdefault(letter.get("destination") or "?", letter["history"])
                continue
            try:
                event = decode(msg.data)
            except MalformedEnvelope:
                continue
            if event.id != event_id:
                continue
            result.type, result.source = event.type, event.source
            if event.traceparent and not result.trace_id:
                result.trace_id = event.traceparent.split("-")[1] if event.traceparent.count("-") == 3 else ""
            detail = ""
            if stream == subjects.DELIVER_STREAM:
                detail = await _delivery_state(js, msg.subject, seq)
            result.steps.append(Step(at, stage, msg.subject, detail, seq))
    await _attempts(js, result)
    result.steps.sort(key=lambda s: s.at)
    return result


async def _delivery_state(js: Any, subject: str, seq: int) -> str:
    """Whether the destination's consumer has acknowledged the message (delivered or dead-lettered)."""
    parts = subject.split(".")
    if len(parts) < 3:
        return ""
    destination = parts[2]
    durable = {"batch": subjects.delivery_batch_consumer, "ordered": subjects.delivery_ordered_consumer}.get(
        parts[3] if len(parts) > 3 else "", subjects.delivery_consumer)(destination)
    try:
        info = await js.consumer_info(subjects.DELIVER_STREAM, durable)
    except nats.js.errors.NotFoundError:
        return f"to {destination}: no delivery consumer yet (waiting)"
    if seq <= info.ack_floor.stream_seq:
        return f"to {destination}: settled (delivered, or dead-lettered below)"
    if seq > info.delivered.stream_seq:
        return f"to {destination}: waiting in the stream"
    return f"to {destination}: in delivery (attempted, being retried, or held)"


async def _attempts(js: Any, result: Timeline) -> None:
    destinations = {s.subject.split(".")[2] for s in result.steps if s.stage == "routed"}
    try:
        kv = await js.key_value(subjects.ATTEMPTS_BUCKET)
    except nats.js.errors.BucketNotFoundError:
        return
    for destination in destinations:
        with contextlib.suppress(nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError,
                                 msgspec.DecodeError):
            entry = await kv.get(f"{destination}.{result.event_id}")
            if entry.value:
                result.attempts[destination] = msgspec.json.decode(entry.value)


async def main(args: argparse.Namespace) -> int:
    from shared.cli.configcmds import _connect

    nc = await _connect()
    try:
        found = await timeline(nc.jetstream(), args.id, scan=max(1, args.scan))
    finally:
        await nc.close()
    if not found.steps:
        print(f"no event {args.id} in the streams (searched {args.scan} messages per stream from the time in "
              "its id)", file=sys.stderr)
        return 1
    if args.output == "json":
        print(msgspec.json.format(msgspec.json.encode(msgspec.to_builtins(found)), indent=2).decode())
        return 0
    print(f"event {found.event_id}  type {found.type}  source {found.source}")
    print(f"trace {found.trace_id or '(none)'}")
    for step in found.steps:
        print(f"  {step.at}  {step.stage:<13}  {step.subject}  #{step.seq}" + (f"  {step.detail}" if step.detail
                                                                              else ""))
    for destination, attempts in sorted(found.attempts.items()):
        print(f"  attempts to {destination}:")
        for a in attempts:
            status = a.get("status") or a.get("error", "")[:60]
            retry = f", retry in {a['next_delay_s']}s" if a.get("next_delay_s") is not None else ""
            print(f"    #{a.get('attempt')}  {a.get('at')}  {status}  {a.get('latency_ms', '')} ms{retry}"
                  + (f"  {a['excerpt'][:80]!r}" if a.get("excerpt") else ""))
    return 0
