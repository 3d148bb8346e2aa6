"""Adapters per source `kind`: how each builder's request becomes payloads, a source event id and a test flag.

`body.py` decodes the content types every builder can send (JSON, form, multipart fields); each builder
module names where that builder puts its own delivery or execution id and how it marks a test request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.ingress.adapters import generic, make, n8n, power_automate, zapier
from services.ingress.adapters.body import decode_body, unflatten
from services.ingress.adapters.builder import Builder

BUILDERS: dict[str, Builder] = {
    "generic": generic.BUILDER,
    "zapier": zapier.BUILDER,
    "make": make.BUILDER,
    "n8n": n8n.BUILDER,
    "power-automate": power_automate.BUILDER,
}
TEST_HEADER = "X-Hookmesh-Test"


@dataclass
class Adapted:
    """What a request carries: one payload per event, the builder's own id, and whether it is a test."""

    payloads: list[Any]
    source_event_id: str | None
    is_test: bool
    batch: bool


def adapt(kind: str, headers: Mapping[str, str], body: bytes, *, batch: bool) -> Adapted:
    """Decode a request for a source of this kind. Raises MalformedBody or UnsupportedMediaType."""
    builder = BUILDERS[kind]
    payload, form = decode_body(headers.get("Content-Type", ""), body)
    if form and builder.unflatten_form:
        payload = unflatten(payload)
    is_batch = batch and isinstance(payload, list)
    is_test = headers.get(TEST_HEADER, "").lower() in ("1", "true", "yes") or builder.is_test(headers, payload)
    return Adapted(payload if is_batch else [payload], builder.source_event_id(headers, payload), is_test, is_batch)
