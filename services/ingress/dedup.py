"""Dedup keys: a source's `dedup_key` (a header or a JSON pointer), or the builder's own delivery id,
claimed in the `hookmesh_dedup` KV bucket with a per-key TTL of the source's `dedup_window` (default 24h).

JetStream's duplicate window (2 minutes) is too short for builders that retry for hours; the bucket keeps
each key for exactly its window (per-message TTL, nats-server 2.11+), and survives restarts.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from shared import subjects
from shared.errors import Unavailable
from shared.jsonpointer import MISSING, resolve

log = logging.getLogger("hookmesh.ingress.dedup")


def dedup_value(spec: str | None, headers: Mapping[str, str], data: Any) -> str | None:
    if not spec:
        return None
    if spec.startswith("header:"):
        value = headers.get(spec[len("header:"):].strip())
        return value or None
    found = resolve(data, spec)
    if found is MISSING or found is None or isinstance(found, dict | list):
        return None
    return str(found)


def dedup_msg_id(source: str, value: str) -> str:
    """Hashed so that any key (long, or with odd characters) makes a compact, stable message id."""
    return f"dedup:{source}:{_digest(value)}"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:40]


class DedupStore:
    """Claims keys in the dedup bucket: the first claim wins and names its event id; later ones read it."""

    def __init__(self, js: JetStreamContext) -> None:
        self.js = js
        self.kv: KeyValue | None = None

    async def start(self) -> None:
        self.kv = await self.js.key_value(subjects.DEDUP_BUCKET)

    @staticmethod
    def key(source: str, value: str) -> str:
        return f"{source}.{_digest(value)}"

    async def claim(self, source: str, value: str, event_id: str, window: float) -> tuple[str | None, int]:
        """(None, revision) when this request owns the key now; (first event id, 0) for a duplicate."""
        assert self.kv is not None
        key = self.key(source, value)
        try:
            revision = await self.kv.create(key, event_id.encode(), msg_ttl=max(1, round(window)))
            return None, revision
        except nats.js.errors.KeyWrongLastSequenceError:
            pass
        except (nats.errors.Error, TimeoutError) as exc:
            raise Unavailable(f"the dedup store did not answer ({type(exc).__name__})",
                              headers={"Retry-After": "5"}) from exc
        try:
            entry = await self.kv.get(key)
            return (entry.value or b"").decode() or None, 0
        except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
            return await self.claim(source, value, event_id, window)  # expired between the two calls

    async def release(self, source: str, value: str, revision: int) -> None:
        """Forget a claim whose event was not stored, so the builder's retry is accepted."""
        assert self.kv is not None
        try:
            await self.kv.purge(self.key(source, value), msg_ttl=60)
        except (nats.errors.Error, TimeoutError) as exc:
            log.warning("could not release dedup key of source %s (revision %s): %s", source, revision, exc)
