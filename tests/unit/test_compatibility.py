"""shared/compatibility.py: the mode by change matrix with Confluent's JSON Schema semantics."""

from __future__ import annotations

from typing import Any

import pytest

from shared.compatibility import check_version, reader_accepts


def obj(props: dict[str, Any], *, required: list[str] | None = None, closed: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    return schema


S = {"type": "string"}
BASE = {"id": S, "n": {"type": "integer", "minimum": 0, "maximum": 10}, "c": {"enum": ["a", "b"]},
        "code": {"type": "string", "pattern": "^[A-Z]+$", "maxLength": 5}}

# change → (old, new, backward compatible?, forward compatible?, kind expected when backward breaks)
CHANGES: dict[str, tuple[dict[str, Any], dict[str, Any], bool, bool]] = {
    "add optional property, open model (the trap)": (obj(BASE), obj({**BASE, "x": S}), False, True),
    "add optional property, closed model": (obj(BASE, closed=True), obj({**BASE, "x": S}, closed=True), True, False),
    "add unconstrained property, open model": (obj(BASE), obj({**BASE, "x": {}}), True, True),
    "add required property, open model": (obj(BASE), obj({**BASE, "x": S}, required=["x"]), False, True),
    "add required property, closed model": (obj(BASE, closed=True), obj({**BASE, "x": S}, required=["x"], closed=True),
                                            False, False),
    "remove property, open model": (obj(BASE), obj({k: v for k, v in BASE.items() if k != "id"}), True, False),
    "remove property, closed model": (obj(BASE, closed=True),
                                      obj({k: v for k, v in BASE.items() if k != "id"}, closed=True), False, True),
    "change type": (obj(BASE), obj({**BASE, "id": {"type": "integer"}}), False, False),
    "widen type integer to number": (obj(BASE), obj({**BASE, "n": {"type": "number", "minimum": 0, "maximum": 10}}),
                                     True, False),
    "widen enum": (obj(BASE), obj({**BASE, "c": {"enum": ["a", "b", "c"]}}), True, False),
    "narrow enum": (obj(BASE), obj({**BASE, "c": {"enum": ["a"]}}), False, True),
    "loosen maximum": (obj(BASE), obj({**BASE, "n": {"type": "integer", "minimum": 0, "maximum": 20}}), True, False),
    "tighten maximum": (obj(BASE), obj({**BASE, "n": {"type": "integer", "minimum": 0, "maximum": 5}}), False, True),
    "loosen minimum": (obj(BASE), obj({**BASE, "n": {"type": "integer", "minimum": -5, "maximum": 10}}), True, False),
    "tighten minimum": (obj(BASE), obj({**BASE, "n": {"type": "integer", "minimum": 1, "maximum": 10}}), False, True),
    "loosen maxLength": (obj(BASE), obj({**BASE, "code": {"type": "string", "pattern": "^[A-Z]+$", "maxLength": 9}}),
                         True, False),
    "tighten maxLength": (obj(BASE), obj({**BASE, "code": {"type": "string", "pattern": "^[A-Z]+$",
                                                           "maxLength": 3}}), False, True),
    "remove pattern": (obj(BASE), obj({**BASE, "code": {"type": "string", "maxLength": 5}}), True, False),
    "change pattern": (obj(BASE), obj({**BASE, "code": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5}}),
                       False, False),
    "close additionalProperties": (obj(BASE), obj(BASE, closed=True), False, True),
    "open additionalProperties": (obj(BASE, closed=True), obj(BASE), True, False),
}
MODES = ["NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"]


def expected(mode: str, backward: bool, forward: bool) -> bool:
    base = mode.removesuffix("_TRANSITIVE")
    return {"NONE": True, "BACKWARD": backward, "FORWARD": forward, "FULL": backward and forward}[base]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("change", list(CHANGES))
def test_matrix(mode: str, change: str) -> None:
    old, new, backward, forward = CHANGES[change]
    violations = check_version(mode, 2, new, {1: old})
    assert (not violations) is expected(mode, backward, forward), [v.describe(2) for v in violations]
    for violation in violations:
        assert violation.change.why and violation.change.kind and violation.against == 1


def test_the_open_content_model_trap_is_explained() -> None:
    [change] = reader_accepts(obj({"id": S, "x": S}), obj({"id": S}), reader_name="v2", writer_name="v1")
    assert change.kind == "property_added_to_open_content_model"
    assert change.pointer == "/properties/x"
    assert "open content model" in change.why and "v1" in change.why


def test_transitive_checks_every_earlier_version() -> None:
    v1 = obj({"id": S})
    v2 = obj({"id": {"type": "integer"}})  # registered with NONE: history is already broken
    v3 = obj({"id": {"type": "integer"}})
    assert check_version("BACKWARD", 3, v3, {1: v1, 2: v2}) == []
    [violation] = check_version("BACKWARD_TRANSITIVE", 3, v3, {1: v1, 2: v2})
    assert violation.against == 1 and violation.change.kind == "type_changed"
    assert "against v1 (v3 must read v1 data)" in violation.describe(3)


def test_nested_objects_and_items_are_checked() -> None:
    old = obj({"lines": {"type": "array", "items": obj({"sku": S})}})
    new = obj({"lines": {"type": "array", "items": obj({"sku": {"type": "integer"}})}})
    [change] = reader_accepts(new, old)
    assert change.pointer == "/properties/lines/items/properties/sku/type"
