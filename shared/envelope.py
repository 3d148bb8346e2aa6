"""The CloudEvents 1.0 envelope (structured JSON mode) and its codec.

`data` stays `msgspec.Raw`: stages that only pass an event on never parse it. Attributes hookmesh
does not know are kept (as raw JSON) and written back out, as the CloudEvents spec asks.
"""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec

from shared.errors import MalformedEnvelope

CONTENT_TYPE = "application/cloudevents+json"
SPECVERSION = "1.0"

NonEmpty = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class CloudEvent(msgspec.Struct, kw_only=True, omit_defaults=True, dict=True):
    """One event. The extension attributes hookmesh uses are fields; unknown ones ride in `extras`."""

    specversion: str
    id: NonEmpty
    source: NonEmpty
    type: NonEmpty
    time: str | None = None
    datacontenttype: str | None = None
    dataschema: str | None = None
    subject: str | None = None
    data: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    correlationid: str | None = None
    region: str | None = None
    partitionkey: str | None = None
    sourceeventid: str | None = None
    traceparent: str | None = None
    tracestate: str | None = None
    replayof: str | None = None

    @property
    def extras(self) -> dict[str, msgspec.Raw]:
        return self.__dict__.get("_extras", {})

    @extras.setter
    def extras(self, value: dict[str, msgspec.Raw]) -> None:
        self.__dict__["_extras"] = value

    def data_json(self) -> Any:
        """The data decoded to Python objects (None when absent)."""
        return None if self.data is msgspec.UNSET else msgspec.json.decode(self.data)


KNOWN_ATTRIBUTES = frozenset(CloudEvent.__struct_fields__)
_encoder = msgspec.json.Encoder()


def new_event(**attributes: Any) -> CloudEvent:
    """A CloudEvent with specversion 1.0 (msgspec omits defaults, and specversion must be written)."""
    return CloudEvent(specversion=SPECVERSION, **attributes)

_decoder = msgspec.json.Decoder(CloudEvent)
_attribute_decoder = msgspec.json.Decoder(dict[str, msgspec.Raw])


def decode(buf: bytes | memoryview) -> CloudEvent:
    """Decode and validate an envelope; raise MalformedEnvelope with the reason."""
    try:
        event = _decoder.decode(buf)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise MalformedEnvelope(f"not a CloudEvents 1.0 envelope: {exc}") from None
    if event.specversion != SPECVERSION:
        raise MalformedEnvelope(f"unsupported specversion {event.specversion!r}; hookmesh speaks 1.0")
    attributes = _attribute_decoder.decode(buf)
    if len(attributes) > len(KNOWN_ATTRIBUTES) or not attributes.keys() <= KNOWN_ATTRIBUTES:
        event.extras = {k: v for k, v in attributes.items() if k not in KNOWN_ATTRIBUTES}
    return event


def encode(event: CloudEvent) -> bytes:
    body = _encoder.encode(event)
    extras = event.extras
    if not extras:
        return body
    tail = b",".join(_encoder.encode(k) + b":" + bytes(v) for k, v in extras.items())
    return body[:-1] + b"," + tail + b"}"


_last_ms = 0
_seq = 0


def new_event_id() -> str:
    """A UUIDv7 (RFC 9562): time-ordered to the millisecond, monotonic within this process."""
    global _last_ms, _seq
    ms = time.time_ns() // 1_000_000
    if ms <= _last_ms:
        ms = _last_ms
        _seq = (_seq + 1) & 0xFFF
        if _seq == 0:
            ms += 1
    else:
        _seq = int.from_bytes(os.urandom(2), "big") & 0x7FF
    _last_ms = ms
    rand = int.from_bytes(os.urandom(8), "big") & 0x3FFF_FFFF_FFFF_FFFF
    value = (ms << 80) | (0x7 << 76) | (_seq << 64) | (0b10 << 62) | rand
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def source_uri(source: str) -> str:
    return f"/hookmesh/sources/{source}"


def source_name(uri: str) -> str:
    prefix = "/hookmesh/sources/"
    return uri[len(prefix):] if uri.startswith(prefix) else uri


_SCHEMA_URI = re.compile(r"^hookmesh://schemas/(?P<type>[^/]+)/v(?P<version>\d+)$")


def schema_uri(event_type: str, version: int) -> str:
    return f"hookmesh://schemas/{event_type}/v{version}"


def parse_schema_uri(uri: str | None) -> tuple[str, int] | None:
    if not uri:
        return None
    match = _SCHEMA_URI.fullmatch(uri)
    return (match.group("type"), int(match.group("version"))) if match else None
