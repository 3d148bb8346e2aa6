"""services/validation/handler.py: judging an event against its registered schema."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from services.validation.handler import judge
from services.validation.registry import SchemaRegistry
from shared.config import Schema, convert
from shared.configstore import Snapshot
from shared.envelope import CloudEvent, new_event, schema_uri

ORDER = "com.example.order.created"

ORDER_V1: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["order_id", "total"],
    "properties": {
        "order_id": {"type": "string", "minLength": 1},
        "total": {"type": "number", "minimum": 0},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "items": {"type": "array", "items": {"type": "integer"}},
    },
}
ORDER_V2: dict[str, Any] = {**ORDER_V1, "required": ["order_id", "total", "currency"]}


def schema(event_type: str, version: int, body: dict[str, Any]) -> Schema:
    return convert({"type": event_type, "version": version, "schema": body}, Schema)


def registry(*schemas: Schema) -> SchemaRegistry:
    snapshot = Snapshot()
    for item in schemas:
        snapshot.items["schemas"][item.key] = item
    return SchemaRegistry(snapshot)


def event(data: Any = msgspec.UNSET, *, event_type: str = ORDER, dataschema: str | None = None,
          raw: bytes | None = None) -> CloudEvent:
    fields: dict[str, Any] = {"id": "evt-1", "source": "/hookmesh/sources/shop", "type": event_type}
    if dataschema is not None:
        fields["dataschema"] = dataschema
    if raw is not None:
        fields["data"] = msgspec.Raw(raw)
    elif data is not msgspec.UNSET:
        fields["data"] = msgspec.Raw(json.dumps(data).encode())
    return new_event(**fields)


V1_ONLY = registry(schema(ORDER, 1, ORDER_V1))
BOTH = registry(schema(ORDER, 1, ORDER_V1), schema(ORDER, 2, ORDER_V2))


@pytest.mark.parametrize(("reg", "dataschema", "version"), [
    (V1_ONLY, schema_uri(ORDER, 1), 1),
    (V1_ONLY, None, 1),
    (BOTH, schema_uri(ORDER, 1), 1),
])
def test_valid_event(reg: SchemaRegistry, dataschema: str | None, version: int) -> None:
    verdict = judge(event({"order_id": "o-1", "total": 12.5}, dataschema=dataschema), reg)
    assert verdict.ok is True
    assert verdict.reason == ""
    assert verdict.version == version


def test_invalid_event_lists_every_error_with_pointer_and_keyword() -> None:
    data = {"total": -1, "currency": "eur", "items": [1, "two", 3.5]}
    verdict = judge(event(data, dataschema=schema_uri(ORDER, 1)), V1_ONLY)
    assert verdict.ok is False
    assert verdict.reason == "schema_invalid"
    assert verdict.version == 1
    errors = verdict.details["errors"]
    assert sorted((e["pointer"], e["keyword"]) for e in errors) == sorted([
        ("", "required"),
        ("/total", "minimum"),
        ("/currency", "pattern"),
        ("/items/1", "type"),
        ("/items/2", "type"),
    ])
    assert verdict.details["dataschema"] == schema_uri(ORDER, 1)
    by_pointer = {e["pointer"]: e for e in errors}
    assert by_pointer["/total"]["schema_pointer"] == "/properties/total/minimum"
    assert "order_id" in by_pointer[""]["message"]
    assert verdict.error.startswith("5 schema error(s): ")
    assert verdict.error.endswith("(+2 more)")


@pytest.mark.parametrize(("data", "pointer", "keyword"), [
    ({"order_id": "", "total": 1}, "/order_id", "minLength"),
    ({"order_id": 5, "total": 1}, "/order_id", "type"),
    ({"order_id": "o", "total": "1"}, "/total", "type"),
    ({"order_id": "o"}, "", "required"),
    ([], "", "type"),
    ("text", "", "type"),
    (None, "", "type"),
])
def test_single_error(data: Any, pointer: str, keyword: str) -> None:
    verdict = judge(event(data), V1_ONLY)
    assert verdict.reason == "schema_invalid"
    assert [(e["pointer"], e["keyword"]) for e in verdict.details["errors"]] == [(pointer, keyword)]


def test_pointer_escapes_keys() -> None:
    reg = registry(schema("a.b", 1, {"type": "object", "properties": {"a/b~c": {"type": "string"}}}))
    verdict = judge(event({"a/b~c": 1}, event_type="a.b"), reg)
    assert verdict.details["errors"][0]["pointer"] == "/a~1b~0c"


def test_latest_version_is_used_without_dataschema() -> None:
    data = {"order_id": "o-1", "total": 1}  # valid under v1, misses v2's required currency
    verdict = judge(event(data), BOTH)
    assert verdict.version == 2
    assert verdict.reason == "schema_invalid"
    assert verdict.details["dataschema"] == schema_uri(ORDER, 2)
    assert judge(event({**data, "currency": "EUR"}), BOTH).ok is True


@pytest.mark.parametrize(("evt", "fragment", "details"), [
    (event({"x": 1}, event_type="com.unknown.type"), "no schema is registered for com.unknown.type",
     {"type": "com.unknown.type"}),
    (event({"x": 1}, dataschema=schema_uri(ORDER, 3)), f"{ORDER} has no version 3",
     {"type": ORDER, "version": 3}),
    (event({"x": 1}, dataschema="https://example.com/schema.json"), "is not a hookmesh schema URI",
     {"dataschema": "https://example.com/schema.json"}),
])
def test_schema_unknown(evt: CloudEvent, fragment: str, details: dict[str, Any]) -> None:
    verdict = judge(evt, V1_ONLY)
    assert verdict.ok is False
    assert verdict.reason == "schema_unknown"
    assert fragment in verdict.error
    assert verdict.details == details


def test_schema_mismatch() -> None:
    verdict = judge(event({"x": 1}, dataschema=schema_uri("com.other", 1)), V1_ONLY)
    assert verdict.reason == "schema_mismatch"
    assert "com.other" in verdict.error


def test_data_that_is_not_json() -> None:
    verdict = judge(event(raw=b"{broken"), V1_ONLY)
    assert verdict.reason == "malformed_envelope"
    assert verdict.version == 1


def test_absent_data_is_validated_as_null() -> None:
    verdict = judge(event(), V1_ONLY)
    assert verdict.reason == "schema_invalid"
    assert verdict.details["errors"][0]["keyword"] == "type"


def test_judge_uses_the_cached_validator_until_invalidated() -> None:
    reg = registry(schema("a.b", 1, {"type": "string"}))
    first = reg.get("a.b", 1)
    assert first is not None
    assert reg.get("a.b", 1) is first
    reg.snapshot.items["schemas"]["a.b.v1"] = schema("a.b", 1, {"type": "integer"})
    assert reg.get("a.b", 1) is first  # still cached
    assert judge(event("text", event_type="a.b"), reg).ok is True
    reg.invalidate("a.b.v1")
    assert judge(event("text", event_type="a.b"), reg).ok is False
    assert reg.get("a.b", 2) is None
