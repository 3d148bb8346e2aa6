"""How a destination receives an event: structured mode (the whole CloudEvent as JSON, the default) or
binary mode (attributes as `ce-*` headers, the data as the body), per the CloudEvents HTTP binding."""

from __future__ import annotations

import string
from urllib.parse import quote

import msgspec

from shared.envelope import CONTENT_TYPE, CloudEvent

# Printable ASCII except '"' and '%' travels as is; everything else is percent-encoded (HTTP binding 3.1.3.2).
_SAFE = "".join(c for c in string.printable if c not in '"%\t\n\r\x0b\x0c')
_EXTENSIONS = ("correlationid", "region", "partitionkey", "sourceeventid", "replayof")
_OPTIONAL = ("time", "subject", "dataschema")


def structured(body: bytes) -> tuple[dict[str, str], bytes]:
    return {"Content-Type": CONTENT_TYPE}, body


def binary(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    """(headers, body) in binary mode. traceparent travels as the HTTP header of the delivery span."""
    headers = {"ce-specversion": event.specversion, "ce-id": _h(event.id), "ce-source": _h(event.source),
               "ce-type": _h(event.type)}
    for name in _OPTIONAL + _EXTENSIONS:
        value = getattr(event, name)
        if value is not None:
            headers[f"ce-{name}"] = _h(value)
    for name, raw in event.extras.items():
        try:
            value = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            continue
        headers[f"ce-{name}"] = _h(value if isinstance(value, str) else msgspec.json.encode(value).decode())
    content_type = event.datacontenttype or "application/json"
    headers["Content-Type"] = content_type
    if event.data is msgspec.UNSET:
        return headers, b""
    raw_data = bytes(event.data)
    if not _is_json(content_type):
        value = msgspec.json.decode(raw_data)
        if isinstance(value, str):  # text data (for example text/plain) is sent as the text itself
            return headers, value.encode()
    return headers, raw_data


def _is_json(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json") or media == "text/json"


def _h(value: str) -> str:
    return quote(value, safe=_SAFE)
