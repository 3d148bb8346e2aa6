"""Which dead letters a request means: exact-match filters, a time range, and the checks on them.

The same filters serve `GET /v1/dead-letters` (query string), `POST /v1/dead-letters/replay` (JSON
body) and `hookmesh dlq`. Unknown filters and unreadable values are refused, never ignored: an
operator who typed `--reson` must not replay everything.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from shared.durations import parse_duration
from shared.errors import MalformedBody

EXACT = ("stage", "reason", "source", "destination", "type", "event_id", "status")
RANGE = ("since", "until")
STATUSES = ("pending", "replayed", "discarded")


@dataclass(frozen=True)
class Filter:
    """Exact values that must all match, and a half-open window [since, until) over the failure time."""

    exact: dict[str, str] = field(default_factory=dict)
    since: float | None = None
    until: float | None = None

    def matches(self, facts: Mapping[str, str], at: float) -> bool:
        if self.since is not None and at < self.since:
            return False
        if self.until is not None and at >= self.until:
            return False
        return all(facts.get(key) == wanted for key, wanted in self.exact.items())

    def with_status(self, status: str) -> Filter:
        return Filter({**self.exact, "status": status}, self.since, self.until)


def parse_timestamp(text: str) -> float:
    """Seconds since the epoch for an RFC 3339 time such as 2024-05-01T12:00:00Z."""
    value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    if value.tzinfo is None:
        raise ValueError("give a time zone, for example 2024-05-01T12:00:00Z")
    return value.timestamp()


def parse_time(name: str, text: str, *, now: float | None = None) -> float:
    """An RFC 3339 timestamp, or a duration meaning that long ago (`since=1h`)."""
    text = text.strip()
    try:
        return parse_timestamp(text)
    except ValueError:
        pass
    try:
        return (time.time() if now is None else now) - parse_duration(text)
    except ValueError:
        raise MalformedBody(f"{name}={text!r} is neither an RFC 3339 time (2024-05-01T12:00:00Z) nor a duration "
                            "ago (30m, 24h, 7d)") from None


def build(values: Mapping[str, object], *, allowed: tuple[str, ...] = (), now: float | None = None) -> Filter:
    """A Filter from query parameters or a JSON body; `allowed` names other keys the caller reads itself."""
    unknown = sorted(k for k in values if k not in EXACT and k not in RANGE and k not in allowed)
    if unknown:
        raise MalformedBody(f"unknown filter {', '.join(unknown)}; filters are {', '.join(EXACT + RANGE)}",
                            extra={"unknown": unknown})
    exact: dict[str, str] = {}
    for key in EXACT:
        value = values.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise MalformedBody(f"filter {key} must be a string, got {type(value).__name__}")
        exact[key] = value
    if "status" in exact and exact["status"] not in STATUSES:
        raise MalformedBody(f"status={exact['status']!r} is not one of {', '.join(STATUSES)}")
    bounds: dict[str, float] = {}
    for key in RANGE:
        value = values.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise MalformedBody(f"{key} must be a string such as 2024-05-01T12:00:00Z or 24h")
        bounds[key] = parse_time(key, value, now=now)
    since, until = bounds.get("since"), bounds.get("until")
    if since is not None and until is not None and since >= until:
        raise MalformedBody("since must be earlier than until")
    return Filter(exact, since, until)
