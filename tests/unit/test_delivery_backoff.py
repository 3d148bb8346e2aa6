"""services/delivery/backoff.py: exponential backoff with full jitter, and Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from services.delivery.backoff import backoff_cap, parse_retry_after, retry_delay


@pytest.mark.parametrize(("attempt", "initial", "maximum", "cap"), [
    (1, 1.0, 3600.0, 1.0),
    (2, 1.0, 3600.0, 2.0),
    (3, 1.0, 3600.0, 4.0),
    (4, 1.0, 3600.0, 8.0),
    (11, 1.0, 3600.0, 1024.0),
    (12, 1.0, 3600.0, 2048.0),
    (13, 1.0, 3600.0, 3600.0),
    (1, 0.5, 30.0, 0.5),
    (4, 0.5, 30.0, 4.0),
    (6, 0.5, 30.0, 16.0),
    (7, 0.5, 30.0, 30.0),
    (1000, 0.5, 30.0, 30.0),
    (10**9, 1.0, 60.0, 60.0),
])
def test_backoff_cap_doubles_then_caps(attempt: int, initial: float, maximum: float, cap: float) -> None:
    assert backoff_cap(attempt, initial, maximum) == cap


def test_backoff_cap_is_monotonic() -> None:
    caps = [backoff_cap(a, 0.2, 45.0) for a in range(1, 40)]
    assert caps == sorted(caps)
    assert caps[0] == 0.2
    assert caps[-1] == 45.0


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("attempt", [1, 2, 5, 20])
def test_retry_delay_is_within_zero_and_cap(seed: int, attempt: int) -> None:
    rng = random.Random(seed)
    for _ in range(200):
        delay, cap = retry_delay(attempt, 1.0, 60.0, rng=rng)
        assert cap == backoff_cap(attempt, 1.0, 60.0)
        assert 0.0 <= delay <= cap


def test_retry_delay_is_jittered_and_reproducible() -> None:
    first = [retry_delay(6, 1.0, 60.0, rng=random.Random(7))[0] for _ in range(3)]
    assert len(set(first)) == 1  # same seed, same delay
    rng = random.Random(7)
    spread = [retry_delay(6, 1.0, 60.0, rng=rng)[0] for _ in range(200)]
    assert len(set(spread)) > 150  # full jitter spreads the delays over [0, 32]
    assert min(spread) < 32.0 / 4
    assert max(spread) > 32.0 * 3 / 4


@pytest.mark.parametrize(("retry_after", "maximum", "expected_at_least"), [
    (20.0, 60.0, 20.0),
    (59.0, 60.0, 59.0),
    (0.0, 60.0, 0.0),
])
def test_retry_after_raises_the_delay(retry_after: float, maximum: float, expected_at_least: float) -> None:
    rng = random.Random(1)
    for _ in range(100):
        delay, cap = retry_delay(1, 1.0, maximum, retry_after=retry_after, rng=rng)
        assert cap == 1.0
        assert delay >= expected_at_least
        assert delay <= max(cap, retry_after)


@pytest.mark.parametrize("retry_after", [61.0, 3600.0, 1e9])
def test_retry_after_is_clamped_to_max(retry_after: float) -> None:
    delay, _ = retry_delay(1, 1.0, 60.0, retry_after=retry_after, rng=random.Random(3))
    assert delay == 60.0


def test_retry_after_below_the_jitter_keeps_the_jitter() -> None:
    rng_a, rng_b = random.Random(11), random.Random(11)
    plain, _ = retry_delay(10, 1.0, 600.0, rng=rng_a)
    with_header, _ = retry_delay(10, 1.0, 600.0, retry_after=0.001, rng=rng_b)
    assert plain > 0.001
    assert with_header == plain


NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(("value", "expected"), [
    ("0", 0.0),
    ("120", 120.0),
    (" 30 ", 30.0),
    ("Wed, 01 May 2024 12:00:30 GMT", 30.0),
    ("Wed, 01 May 2024 13:00:00 GMT", 3600.0),
    ("Wed, 01 May 2024 11:59:00 GMT", 0.0),  # in the past: retry now
    (format_datetime(datetime(2024, 5, 1, 12, 5, 0, tzinfo=UTC), usegmt=True), 300.0),
])
def test_parse_retry_after(value: str, expected: float) -> None:
    assert parse_retry_after(value, now=NOW) == pytest.approx(expected)


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5", "12abc", "Wed, 99 Foo 2024"])
def test_parse_retry_after_junk_is_none(value: str | None) -> None:
    assert parse_retry_after(value, now=NOW) is None
