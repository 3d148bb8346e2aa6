"""shared/durations.py: durations (`200ms`, `5s`, `10m`, `1h`, `7d`) and rates (`50/s`)."""

from __future__ import annotations

import math

import pytest

from shared.durations import format_duration, parse_duration, parse_rate


@pytest.mark.parametrize(("text", "seconds"), [
    ("200ms", 0.2),
    ("1ms", 0.001),
    ("1500ms", 1.5),
    ("0ms", 0.0),
    ("5s", 5.0),
    ("0.5s", 0.5),
    ("1.25s", 1.25),
    ("10m", 600.0),
    ("1.5m", 90.0),
    ("1h", 3600.0),
    ("24h", 86400.0),
    ("1.5h", 5400.0),
    ("7d", 604800.0),
    ("0.5d", 43200.0),
    (" 5s ", 5.0),
    ("5 s", 5.0),
    (5, 5.0),
    (0, 0.0),
    (2.5, 2.5),
])
def test_parse_duration(text: str | int | float, seconds: float) -> None:
    result = parse_duration(text)
    assert isinstance(result, float)
    assert result == pytest.approx(seconds)


@pytest.mark.parametrize("value", [-1, -0.5, "-5s", "-1ms"])
def test_parse_duration_rejects_negatives(value: str | int | float) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize("value", [True, False])
def test_parse_duration_rejects_bools(value: bool) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(value)


@pytest.mark.parametrize("junk", ["", "5q", "s", "ms", "5 sec", "5S", "5H", "1e3s", "five seconds", "5s5", "1w",
                                  "5s 10m", "1,5s"])
def test_parse_duration_rejects_junk(junk: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_duration(junk)
    assert repr(junk) in str(excinfo.value)
    assert "200ms" in str(excinfo.value)  # the accepted forms are named


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_parse_duration_rejects_non_finite(value: float) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize(("text", "per_second"), [
    ("50/s", 50.0),
    ("1/s", 1.0),
    ("0.5/s", 0.5),
    ("600/m", 10.0),
    ("30/m", 0.5),
    ("3600/h", 1.0),
    ("1000/h", 1000 / 3600),
    (" 50 / s ", 50.0),
])
def test_parse_rate(text: str, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("junk", ["50", "50/d", "/s", "fast", "50 per second", "-5/s", "50/S", ""])
def test_parse_rate_rejects_junk(junk: str) -> None:
    with pytest.raises(ValueError, match="expected a rate"):
        parse_rate(junk)


@pytest.mark.parametrize("zero", ["0/s", "0/m", "0.0/h"])
def test_parse_rate_rejects_zero(zero: str) -> None:
    with pytest.raises(ValueError, match="positive"):
        parse_rate(zero)


@pytest.mark.parametrize(("seconds", "text"), [
    (0.0, "0ms"),
    (0.001, "1ms"),
    (0.2, "200ms"),
    (0.5, "500ms"),
    (1.0, "1s"),
    (1.5, "1.5s"),
    (10.0, "10s"),
    (59.0, "59s"),
    (60.0, "1m"),
    (90.0, "90s"),
    (120.0, "2m"),
    (3600.0, "1h"),
    (5400.0, "90m"),
    (7200.0, "2h"),
    (86400.0, "1d"),
    (604800.0, "7d"),
    (90000.0, "25h"),
])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)
