"""Durations as operators write them (`200ms`, `5s`, `10m`, `1h`, `24h`, `7d`) and rates (`50/s`)."""

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|m|h)\s*$")


def parse_duration(text: str | int | float) -> float:
    """Seconds for a duration; a bare number is seconds. Raises ValueError with the accepted forms."""
    if isinstance(text, bool):
        raise ValueError(f"expected a duration such as 5s or 200ms, got {text!r}")
    if isinstance(text, int | float):
        if not math.isfinite(text) or text < 0:
            raise ValueError(f"a duration must be a finite, non-negative number: {text}")
        return float(text)
    if not isinstance(text, str):
        raise ValueError(f"expected a duration such as 5s or 200ms, got {text!r}")
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"expected a duration such as 200ms, 5s, 10m, 1h or 7d, got {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_rate(text: str) -> float:
    """Events per second for a rate written `50/s`, `600/m` or `1000/h`."""
    match = _RATE.match(text)
    if not match:
        raise ValueError(f"expected a rate such as 50/s, 600/m or 1000/h, got {text!r}")
    per = {"s": 1.0, "m": 60.0, "h": 3600.0}[match.group(2)]
    rate = float(match.group(1)) / per
    if rate <= 0:
        raise ValueError(f"a rate must be positive, got {text!r}")
    return rate


def format_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
