"""Deprecated schema versions on the wire: validation marks the event, delivery turns marks into headers.

Extension attributes (CloudEvents, lowercase alphanumerics): `deprecation` = "true" and, when a sunset is
set, `sunset` = its RFC 3339 time. Delivery sends them as `Deprecation: true` and `Sunset: <HTTP-date>`
(RFC 8594).
"""

from __future__ import annotations

import datetime
from email.utils import formatdate

import msgspec

DEPRECATION = "deprecation"
SUNSET = "sunset"
_attributes = msgspec.json.Decoder(dict[str, msgspec.Raw])


def extensions(sunset: datetime.date | None) -> dict[str, msgspec.Raw]:
    marks = {DEPRECATION: msgspec.Raw(b'"true"')}
    if sunset is not None:
        marks[SUNSET] = msgspec.Raw(msgspec.json.encode(f"{sunset.isoformat()}T00:00:00Z"))
    return marks


def delivery_headers(body: bytes) -> dict[str, str]:
    """`Deprecation`/`Sunset` headers for an encoded event; empty (and cheap) for the usual event."""
    if b'"deprecation":' not in body:
        return {}
    try:
        attributes = _attributes.decode(body)
    except msgspec.DecodeError:
        return {}
    if DEPRECATION not in attributes:
        return {}
    headers = {"Deprecation": "true"}
    if SUNSET in attributes:
        try:
            when = datetime.datetime.fromisoformat(msgspec.json.decode(attributes[SUNSET]).replace("Z", "+00:00"))
            headers["Sunset"] = formatdate(when.timestamp(), usegmt=True)
        except (ValueError, TypeError, AttributeError, msgspec.DecodeError):
            pass
    return headers
