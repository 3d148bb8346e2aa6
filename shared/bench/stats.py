"""Latency percentiles and a result record shared by every bench part."""

from __future__ import annotations

import msgspec


class Result(msgspec.Struct, kw_only=True):
    name: str
    events: int
    seconds: float
    events_per_s: float
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    errors: int = 0
    note: str = ""


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def result(name: str, events: int, seconds: float, latencies_s: list[float], *, errors: int = 0,
           note: str = "") -> Result:
    values = sorted(latencies_s)

    def ms(v: float | None) -> float | None:
        return None if v is None else round(v * 1000, 2)

    return Result(name=name, events=events, seconds=round(seconds, 3),
                  events_per_s=round(events / seconds, 1) if seconds > 0 else 0.0,
                  p50_ms=ms(percentile(values, 0.5)), p99_ms=ms(percentile(values, 0.99)),
                  max_ms=ms(values[-1] if values else None), errors=errors, note=note)
