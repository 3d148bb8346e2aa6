"""The one decision ingress makes: turn an authenticated request body into a CloudEvent."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec

from shared import subjects
from shared.config import Source
from shared.envelope import CloudEvent, new_event, new_event_id, now_rfc3339, schema_uri, source_uri
from shared.errors import Forbidden, MalformedBody, Unprocessable, UnsupportedMediaType
from shared.jsonpointer import MISSING, resolve

JSON_TYPES = ("application/json",)


def check_content_type(content_type: str) -> None:
    mime, _, params = content_type.partition(";")
    mime = mime.strip().lower()
    if not (mime in JSON_TYPES or (mime.startswith("application/") and mime.endswith("+json"))):
        shown = mime or "none"
        raise UnsupportedMediaType(f"content type {shown} is not accepted by this source; send "
                                   "Content-Type: application/json")
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(f"charset {value.strip()} is not accepted; JSON must be UTF-8")


def needs_decoded(source: Source) -> bool:
    return any((source.type_from, source.version_from, source.region_from, source.subject_from,
                source.partitionkey_from, source.dedup_key and source.dedup_key.startswith("/")))


def parse_body(body: bytes, decode: bool) -> Any:
    """Check the body is JSON; decode it only when a pointer must read it."""
    try:
        return msgspec.json.decode(body) if decode else msgspec.json.decode(body, type=msgspec.Raw)
    except msgspec.DecodeError as exc:
        raise MalformedBody(f"the body is not valid JSON: {exc}") from None


def _pointer(data: Any, pointer: str | None, what: str, *, required: bool = False) -> Any:
    if not pointer:
        return None
    value = resolve(data, pointer)
    if value is MISSING or value is None:
        if required:
            raise Unprocessable(f"the body has no {what} at {pointer}")
        return None
    return value


def build_event(source: Source, body: bytes, data: Any, headers: Mapping[str, str]) -> CloudEvent:
    event_type = source.event_type or _pointer(data, source.type_from, "event type", required=True)
    if not isinstance(event_type, str) or not subjects.TYPE_RE.match(event_type):
        raise Unprocessable(f"{event_type!r} is not a valid event type (dot-separated letters, digits, - and _)")
    version: Any = source.schema_version
    if source.version_from:
        version = _pointer(data, source.version_from, "schema version", required=True)
        if isinstance(version, str) and (digits := re.fullmatch(r"v?([0-9]{1,9})", version)):
            version = int(digits.group(1))
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise Unprocessable(f"schema version at {source.version_from} must be a positive integer, "
                                f"got {version!r}")
    region = source.region or _pointer(data, source.region_from, "region")
    subject = _pointer(data, source.subject_from, "subject")
    partition = _pointer(data, source.partitionkey_from, "partition key")
    return new_event(
        id=new_event_id(), source=source_uri(source.name), type=event_type, time=now_rfc3339(),
        datacontenttype="application/json",
        dataschema=schema_uri(event_type, version) if version else None,
        subject=None if subject is None else str(subject),
        data=msgspec.Raw(body),
        region=None if region is None else str(region),
        partitionkey=None if partition is None else str(partition),
        correlationid=headers.get("X-Correlation-Id") or None,
    )


def check_allowed_type(source: Source, event_type: str) -> None:
    """Governance: a source that reads its type from the payload may only emit its `allowed_types`."""
    if source.type_from and source.allowed_types is not None and event_type not in source.allowed_types:
        raise Forbidden(f"source {source.name} may not emit {event_type}; its allowed_types are "
                        f"{', '.join(source.allowed_types) or 'empty'}", extra={"type": event_type})


def build_adapted_event(source: Source, payload: Any, data: Any, raw: bytes | None,
                        headers: Mapping[str, str], source_event_id: str | None) -> CloudEvent:
    """One event from an adapted payload: pointers read the payload, `data` is the transform's result
    (`raw` keeps the exact bytes the builder sent when nothing was changed)."""
    event = build_event(source, raw if raw is not None else msgspec.json.encode(data), payload, headers)
    check_allowed_type(source, event.type)
    if source_event_id:
        event.sourceeventid = source_event_id
    return event
