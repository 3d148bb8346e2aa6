"""services/ingress/dedup.py: a source's dedup_key becomes a stable, source-scoped Nats-Msg-Id."""

from __future__ import annotations

import re
from typing import Any

import pytest
from multidict import CIMultiDict

from services.ingress.dedup import dedup_msg_id, dedup_value

DATA: dict[str, Any] = {"id": "evt-1", "n": 42, "zero": 0, "flag": False, "none": None, "obj": {"a": 1},
                        "list": [1, 2], "nested": {"key": "k-9"}, "a/b": "slash"}


@pytest.mark.parametrize(("spec", "headers", "expected"), [
    ("header:Idempotency-Key", {"Idempotency-Key": "abc"}, "abc"),
    ("header: Idempotency-Key", {"Idempotency-Key": "abc"}, "abc"),
    ("header:Idempotency-Key", {"idempotency-key": "abc"}, "abc"),
    ("header:Idempotency-Key", {}, None),
    ("header:Idempotency-Key", {"Idempotency-Key": ""}, None),
    ("header:X-Request-Id", {"Idempotency-Key": "abc"}, None),
])
def test_dedup_value_from_header(spec: str, headers: dict[str, str], expected: str | None) -> None:
    assert dedup_value(spec, CIMultiDict(headers), DATA) == expected


@pytest.mark.parametrize(("spec", "expected"), [
    ("/id", "evt-1"),
    ("/n", "42"),
    ("/zero", "0"),
    ("/flag", "False"),
    ("/nested/key", "k-9"),
    ("/list/1", "2"),
    ("/a~1b", "slash"),
    ("/none", None),
    ("/obj", None),
    ("/list", None),
    ("/absent", None),
    ("/nested/absent", None),
])
def test_dedup_value_from_pointer(spec: str, expected: str | None) -> None:
    assert dedup_value(spec, {}, DATA) == expected


@pytest.mark.parametrize("spec", [None, ""])
def test_no_dedup_key(spec: str | None) -> None:
    assert dedup_value(spec, {"Idempotency-Key": "abc"}, DATA) is None


def test_dedup_msg_id_is_stable() -> None:
    assert dedup_msg_id("shop", "abc") == dedup_msg_id("shop", "abc")
    assert re.fullmatch(r"dedup:shop:[0-9a-f]{40}", dedup_msg_id("shop", "abc"))


@pytest.mark.parametrize(("a", "b"), [
    (("shop", "abc"), ("crm", "abc")),
    (("shop", "abc"), ("shop", "abd")),
    (("shop", "abc"), ("shop", "ABC")),
])
def test_dedup_msg_id_differs(a: tuple[str, str], b: tuple[str, str]) -> None:
    assert dedup_msg_id(*a) != dedup_msg_id(*b)


@pytest.mark.parametrize("value", ["x" * 10_000, "spaces and\nnewlines", "ünïcødé ✓", ""])
def test_dedup_msg_id_is_compact_for_any_value(value: str) -> None:
    msg_id = dedup_msg_id("shop", value)
    assert len(msg_id) == len("dedup:shop:") + 40
    assert msg_id.isascii()
    assert " " not in msg_id and "\n" not in msg_id
