"""Destination state shared by every delivery replica: paused by hand, disabled by 410 Gone, breaker.

Kept in the `hookmesh_destination_state` KV bucket, keys `{destination}.paused`,
`{destination}.disabled` and `{destination}.breaker`. Every delivery replica watches the bucket and
stops fetching for a paused or disabled destination, so its events stay queued in the stream;
`hookmesh destinations resume NAME` deletes both keys and delivery continues where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from typing import Any

import msgspec
import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from shared import subjects
from shared.configstore import applied_by
from shared.envelope import now_rfc3339
from shared.kvwatch import BucketWatch

log = logging.getLogger("hookmesh.delivery.state")

FLAGS = ("paused", "disabled", "breaker")


class StateRecord(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Why a destination is in this state, since when, and who put it there."""

    at: str
    by: str = ""
    reason: str = ""
    state: str = ""          # breaker: closed | open | half_open
    status: int | None = None
    event_id: str = ""


_decoder = msgspec.json.Decoder(StateRecord)


def who() -> str:
    """The operator recorded on a change (the same as `hookmesh apply` records)."""
    return applied_by()


def key(destination: str, flag: str) -> str:
    return f"{destination}.{flag}"


async def bucket(js: JetStreamContext) -> KeyValue:
    return await js.key_value(subjects.DESTINATION_STATE_BUCKET)


async def set_flag(kv: KeyValue, destination: str, flag: str, record: StateRecord, *, only_if_absent: bool = False
                   ) -> bool:
    """Write a flag; with `only_if_absent`, only when it is not set yet. True when this call set it."""
    value = msgspec.json.encode(record)
    if not only_if_absent:
        await kv.put(key(destination, flag), value)
        return True
    try:
        await kv.create(key(destination, flag), value)
    except nats.js.errors.KeyWrongLastSequenceError:
        return False
    return True


async def clear_flag(kv: KeyValue, destination: str, flag: str) -> bool:
    """Delete a flag; True when it was set."""
    try:
        await kv.get(key(destination, flag))
    except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
        return False
    await kv.delete(key(destination, flag))
    return True


async def read_all(kv: KeyValue) -> dict[str, dict[str, StateRecord]]:
    """{destination: {flag: record}} for every flag set now."""
    out: dict[str, dict[str, StateRecord]] = {}
    try:
        keys = await kv.keys()
    except nats.js.errors.NoKeysError:
        return out
    for k in keys:
        destination, _, flag = k.rpartition(".")
        with contextlib.suppress(nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError,
                                 msgspec.DecodeError, msgspec.ValidationError):
            entry = await kv.get(k)
            if entry.value:
                out.setdefault(destination, {})[flag] = _decoder.decode(entry.value)
    return out


class DestinationStates:
    """A live view of the bucket; `listener(destination)` runs after a destination's flags changed."""

    def __init__(self, js: JetStreamContext) -> None:
        self.js = js
        self.flags: dict[str, dict[str, StateRecord]] = {}
        self._listeners: list[Callable[[str], None]] = []
        self._watch = BucketWatch(js, subjects.DESTINATION_STATE_BUCKET, self._apply)
        self.loaded = self._watch.loaded
        self.kv: KeyValue | None = None

    def on_change(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)

    def record(self, destination: str, flag: str) -> StateRecord | None:
        return self.flags.get(destination, {}).get(flag)

    def paused(self, destination: str) -> bool:
        return self.record(destination, "paused") is not None

    def disabled(self, destination: str) -> bool:
        return self.record(destination, "disabled") is not None

    async def start(self) -> None:
        self.kv = await self._watch.start()
        await asyncio.wait_for(self.loaded.wait(), timeout=10)

    def _apply(self, entry: Any) -> None:
        destination, _, flag = entry.key.rpartition(".")
        if flag not in FLAGS or flag == "breaker":
            return
        current = self.flags.setdefault(destination, {})
        if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
            current.pop(flag, None)
        else:
            try:
                current[flag] = _decoder.decode(entry.value)
            except (msgspec.DecodeError, msgspec.ValidationError):
                log.error("ignoring unreadable destination state %s", entry.key)
                return
        for listener in self._listeners:
            try:
                listener(destination)
            except Exception:
                log.exception("destination state listener failed for %s", destination)

    async def stop(self) -> None:
        await self._watch.stop()


async def note_breaker(kv: KeyValue, destination: str, state: str, reason: str) -> None:
    """Record a breaker transition for `hookmesh get destinations` (informational; per replica)."""
    record = StateRecord(at=now_rfc3339(), by=socket.gethostname(), reason=reason, state=state)
    with contextlib.suppress(nats.errors.Error, nats.js.errors.Error, asyncio.TimeoutError):
        await kv.put(key(destination, "breaker"), msgspec.json.encode(record))
