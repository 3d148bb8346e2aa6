"""services/validation/registry.py: compiled validators by (type, version), and every error they report."""

from __future__ import annotations

from typing import Any

import pytest

from services.validation.registry import SchemaRegistry
from shared.config import Schema, convert
from shared.configstore import Snapshot

ORDER = "com.example.order.created"


def schema(event_type: str, version: int, body: dict[str, Any]) -> Schema:
    return convert({"type": event_type, "version": version, "schema": body}, Schema)


def registry(*schemas: Schema) -> SchemaRegistry:
    snapshot = Snapshot()
    for item in schemas:
        snapshot.items["schemas"][item.key] = item
    return SchemaRegistry(snapshot)


def errors(body: dict[str, Any], data: Any) -> list[dict[str, str]]:
    reg = registry(schema("a.b", 1, body))
    compiled = reg.get("a.b", 1)
    assert compiled is not None
    return SchemaRegistry.errors(compiled, data)


@pytest.mark.parametrize(("versions", "expected"), [
    ([1], 1),
    ([1, 2], 2),
    ([2, 1], 2),
    ([9, 10], 10),  # numbers, not strings
    ([3, 100, 20], 100),
    ([], None),
])
def test_latest_version(versions: list[int], expected: int | None) -> None:
    reg = registry(*(schema(ORDER, v, {}) for v in versions))
    assert reg.latest_version(ORDER) == expected


def test_latest_version_ignores_other_types() -> None:
    reg = registry(schema(ORDER, 1, {}), schema(ORDER + ".v2", 7, {}), schema("com.example.order", 5, {}))
    assert reg.latest_version(ORDER) == 1
    assert reg.latest_version(ORDER + ".v2") == 7
    assert reg.latest_version("com.example.order") == 5
    assert reg.latest_version("com.example") is None


def test_get_unknown_is_none() -> None:
    reg = registry(schema(ORDER, 1, {}))
    assert reg.get(ORDER, 2) is None
    assert reg.get("com.other", 1) is None


def test_get_caches_until_invalidated() -> None:
    reg = registry(schema("a.b", 1, {"type": "string"}))
    first = reg.get("a.b", 1)
    assert first is not None
    assert first.schema.schema == {"type": "string"}
    assert reg.get("a.b", 1) is first
    reg.snapshot.items["schemas"]["a.b.v1"] = schema("a.b", 1, {"type": "integer"})
    assert reg.get("a.b", 1) is first  # still the cached validator
    assert SchemaRegistry.errors(first, "text") == []
    reg.invalidate("a.b.v1")
    second = reg.get("a.b", 1)
    assert second is not None and second is not first
    assert [e["keyword"] for e in SchemaRegistry.errors(second, "text")] == ["type"]
    reg.invalidate("never.cached.v1")  # harmless


@pytest.mark.parametrize(("body", "data", "expected"), [
    ({"type": "object", "required": ["a"]}, {}, [("", "required", "/required")]),
    ({"properties": {"n": {"minimum": 0}}}, {"n": -1}, [("/n", "minimum", "/properties/n/minimum")]),
    ({"properties": {"n": {"maximum": 5}}}, {"n": 6}, [("/n", "maximum", "/properties/n/maximum")]),
    ({"properties": {"s": {"type": "string"}}}, {"s": 1}, [("/s", "type", "/properties/s/type")]),
    ({"properties": {"s": {"minLength": 2}}}, {"s": "x"}, [("/s", "minLength", "/properties/s/minLength")]),
    ({"properties": {"s": {"pattern": "^[A-Z]{3}$"}}}, {"s": "eur"}, [("/s", "pattern", "/properties/s/pattern")]),
    ({"properties": {"s": {"enum": ["a"]}}}, {"s": "b"}, [("/s", "enum", "/properties/s/enum")]),
    ({"items": {"type": "integer"}}, [1, "x"], [("/1", "type", "/items/type")]),
    ({"maxItems": 1}, [1, 2], [("", "maxItems", "/maxItems")]),
    ({"properties": {"a/b~c": {"type": "string"}}}, {"a/b~c": 1}, [("/a~1b~0c", "type", "/properties/a~1b~0c/type")]),
])
def test_errors_have_pointer_keyword_and_schema_pointer(body: dict[str, Any], data: Any,
                                                        expected: list[tuple[str, str, str]]) -> None:
    found = errors(body, data)
    assert [(e["pointer"], e["keyword"], e["schema_pointer"]) for e in found] == expected
    assert all(e["message"] for e in found)


def test_every_error_is_reported() -> None:
    body = {"type": "object", "required": ["id"], "properties": {"n": {"minimum": 0}, "s": {"type": "string"}}}
    found = errors(body, {"n": -1, "s": 2})
    assert sorted((e["pointer"], e["keyword"]) for e in found) == [("", "required"), ("/n", "minimum"),
                                                                   ("/s", "type")]


@pytest.mark.parametrize(("body", "data", "keyword"), [
    ({"const": 1}, 2, "const"),
    ({"type": "object", "additionalProperties": False}, {"x": 1}, "additionalProperties"),
    ({"oneOf": [{"type": "string"}, {"type": "integer"}]}, 1.5, "oneOf"),
], ids=["const", "additionalProperties", "oneOf"])
def test_keyword_is_the_json_schema_keyword(body: dict[str, Any], data: Any, keyword: str) -> None:
    assert [e["keyword"] for e in errors(body, data)] == [keyword]


@pytest.mark.parametrize(("limit", "expected"), [(100, 100), (3, 3), (1, 1)])
def test_errors_are_limited(limit: int, expected: int) -> None:
    reg = registry(schema("a.b", 1, {"type": "array", "items": {"type": "string"}}))
    compiled = reg.get("a.b", 1)
    assert compiled is not None
    assert len(SchemaRegistry.errors(compiled, list(range(500)), limit=limit)) == expected
    assert len(SchemaRegistry.errors(compiled, list(range(500)))) == 100
