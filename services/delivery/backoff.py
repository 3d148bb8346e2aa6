"""Retry delays: exponential backoff with full jitter, honouring Retry-After (clamped to `max`)."""

from __future__ import annotations

import random
from email.utils import parsedate_to_datetime
from time import time


def backoff_cap(attempt: int, initial: float, maximum: float) -> float:
    """The ceiling of the delay after attempt `attempt` (1-based): initial * 2^(attempt-1), at most max."""
    exponent = min(attempt - 1, 62)
    return min(maximum, initial * (2 ** exponent))


def retry_delay(attempt: int, initial: float, maximum: float, *, retry_after: float | None = None,
                rng: random.Random | None = None) -> tuple[float, float]:
    """(delay, cap): a uniformly random delay in [0, cap] (full jitter); at least Retry-After, if given."""
    cap = backoff_cap(attempt, initial, maximum)
    delay = (rng or random).uniform(0, cap)
    if retry_after is not None:
        delay = max(delay, min(retry_after, maximum))
    return delay, cap


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - (now if now is not None else time()))
