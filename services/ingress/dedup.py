"""Dedup keys: a source's `dedup_key` (a header or a JSON pointer) becomes the Nats-Msg-Id."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from shared.jsonpointer import MISSING, resolve


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
    return f"dedup:{source}:{hashlib.sha256(value.encode()).hexdigest()[:40]}"
