"""services/deadletter/filters.py: which dead letters a request means, and what it refuses."""

from __future__ import annotations

import pytest

from services.deadletter.filters import Filter, build, parse_time
from shared.errors import MalformedBody

NOW = 1_700_000_000.0


def test_exact_filters_and_a_time_window_all_have_to_match() -> None:
    flt = build({"reason": "schema_invalid", "since": "1h", "until": "2023-11-14T22:13:20Z"}, now=NOW)
    assert flt.exact == {"reason": "schema_invalid"}
    assert flt.since == NOW - 3600 and flt.until == NOW
    facts = {"reason": "schema_invalid", "stage": "validation"}
    assert flt.matches(facts, NOW - 10)
    assert not flt.matches(facts, NOW)  # until is exclusive
    assert not flt.matches(facts, NOW - 3601)
    assert not flt.matches({**facts, "reason": "unroutable"}, NOW - 10)


@pytest.mark.parametrize(("text", "expected"), [
    ("2023-11-14T22:13:20Z", NOW),
    ("2023-11-14T23:13:20+01:00", NOW),
    ("2023-11-14T22:13:20.500Z", NOW + 0.5),
    ("30m", NOW - 1800),
    ("7d", NOW - 7 * 86400),
])
def test_times_are_rfc3339_or_a_duration_ago(text: str, expected: float) -> None:
    assert parse_time("since", text, now=NOW) == expected


@pytest.mark.parametrize(("values", "message"), [
    ({"colour": "red"}, "unknown filter colour"),
    ({"status": "gone"}, "status='gone' is not one of"),
    ({"since": "yesterday"}, "neither an RFC 3339 time"),
    ({"since": "2023-11-14T22:13:20"}, "neither an RFC 3339 time"),  # no time zone: ambiguous
    ({"since": "1h", "until": "2h"}, "since must be earlier than until"),
    ({"reason": ["a", "b"]}, "filter reason must be a string"),
    ({"until": 5}, "until must be a string"),
])
def test_bad_filters_are_refused_with_the_reason(values: dict[str, object], message: str) -> None:
    with pytest.raises(MalformedBody, match=message):
        build(values, now=NOW)


def test_keys_the_caller_reads_itself_pass_and_empty_values_are_ignored() -> None:
    assert build({"limit": "5", "cursor": "9", "stage": ""}, allowed=("limit", "cursor")) == Filter()
    assert build({"stage": "delivery"}).with_status("pending").exact == {"stage": "delivery", "status": "pending"}
