"""Schema compatibility for JSON Schema, with Confluent Schema Registry's semantics.

The one question: does a *reader* schema accept every document a *writer* schema accepts? BACKWARD asks
it with the new version as reader and an old one as writer (new consumers read old events, as a
dead-letter replay does); FORWARD the other way round; FULL both; *_TRANSITIVE against every earlier
version instead of only the latest. Like Confluent's JSON Schema support, an *open* content model
(`additionalProperties` not false) means old data may already hold any property with any value, so
adding a constrained property to an open schema is not backward compatible: the open-content-model trap.
Each breaking change comes back with the JSON pointer into the reader schema, a kind and the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

MODES = ("NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE")
ALL_TYPES = frozenset({"null", "boolean", "object", "array", "number", "string", "integer"})
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "$defs", "definitions", "title", "description", "examples",
                          "default", "deprecated", "readOnly", "writeOnly", "format", "contentEncoding",
                          "contentMediaType"})
_COMBINATORS = ("allOf", "anyOf", "oneOf", "not", "if", "then", "else", "$ref", "dependentSchemas",
                "dependentRequired", "unevaluatedProperties", "unevaluatedItems", "prefixItems", "contains",
                "propertyNames", "uniqueItems")
_LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")


@dataclass(frozen=True)
class Change:
    """One breaking change: where (a JSON pointer into the schema), what kind, and why it breaks."""

    pointer: str
    kind: str
    why: str


@dataclass(frozen=True)
class Violation:
    """A breaking change found while checking a version against an earlier one, in one direction."""

    against: int
    direction: str  # "backward": the new version reads the old one's data; "forward": the other way
    change: Change

    def describe(self, version: int) -> str:
        reads = (f"v{version} must read v{self.against} data" if self.direction == "backward"
                 else f"v{self.against} must read v{version} data")
        where = self.change.pointer or "/"
        return f"against v{self.against} ({reads}): {where}: {self.change.kind}: {self.change.why}"


def _trivial(schema: Any) -> bool:
    """True for a schema that accepts everything (`true`, `{}`, or only annotations)."""
    return schema is True or (isinstance(schema, dict) and not set(schema) - _ANNOTATIONS)


def _types(schema: dict[str, Any]) -> frozenset[str] | None:
    value = schema.get("type")
    if value is None:
        return None
    return frozenset([value] if isinstance(value, str) else value)


def _enum(schema: dict[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    return list(schema["enum"]) if "enum" in schema else None


def _fallback(schema: dict[str, Any], name: str) -> Any:
    """The subschema a property not in `properties` falls under: a matching patternProperties, else
    additionalProperties (open, `true`, unless it says otherwise)."""
    for pattern, sub in (schema.get("patternProperties") or {}).items():
        if re.search(pattern, name):
            return sub
    return schema.get("additionalProperties", True)


def _ptr(path: str, *tokens: str) -> str:
    return path + "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens)


def reader_accepts(reader: Any, writer: Any, *, reader_name: str = "reader", writer_name: str = "writer",
                   path: str = "") -> list[Change]:
    """Every reason why some document valid under `writer` could be refused by `reader` (empty: compatible)."""
    out: list[Change] = []
    _diff(reader, writer, path, out, reader_name, writer_name)
    return out


def _diff(reader: Any, writer: Any, path: str, out: list[Change], rn: str, wn: str) -> None:
    if _trivial(reader) or writer is False:
        return
    if reader is False:
        out.append(Change(path, "schema_false", f"{rn} accepts nothing here, {wn} accepts values"))
        return
    if writer is True:
        writer = {}
    if not isinstance(reader, dict) or not isinstance(writer, dict):
        return
    _diff_types(reader, writer, path, out, rn, wn)
    _diff_values(reader, writer, path, out, rn, wn)
    rtypes = _types(reader)
    if rtypes is None or "object" in rtypes:
        _diff_object(reader, writer, path, out, rn, wn)
    if (rtypes is None or "array" in rtypes) and "items" in reader:
        _diff(reader["items"], writer.get("items", True), _ptr(path, "items"), out, rn, wn)
    for keyword in _COMBINATORS:
        if keyword in reader and reader.get(keyword) != writer.get(keyword):
            out.append(Change(_ptr(path, keyword), "combined_schema_changed",
                              f"{keyword} differs between {wn} and {rn}; hookmesh only proves compatibility of "
                              "combined schemas when they are equal"))


def _diff_types(reader: dict[str, Any], writer: dict[str, Any], path: str, out: list[Change], rn: str,
                wn: str) -> None:
    rtypes = _types(reader)
    if rtypes is None:
        return
    wtypes = _types(writer) or ALL_TYPES
    lost = sorted(t for t in wtypes if t not in rtypes and not (t == "integer" and "number" in rtypes))
    if not lost:
        return
    kept = wtypes - set(lost)
    kind = "type_narrowed" if kept else "type_changed"
    allowed = "any type" if wtypes == ALL_TYPES else ", ".join(sorted(wtypes))
    out.append(Change(_ptr(path, "type"), kind, f"{wn} allows {allowed}; {rn} accepts only "
                      f"{', '.join(sorted(rtypes))}, so {', '.join(lost)} values are refused"))


def _diff_values(reader: dict[str, Any], writer: dict[str, Any], path: str, out: list[Change], rn: str,
                 wn: str) -> None:
    renum, wenum = _enum(reader), _enum(writer)
    if renum is not None:
        if wenum is None:
            out.append(Change(_ptr(path, "enum"), "enum_added", f"{rn} restricts the values to {renum}; {wn} "
                              "allows any value"))
        else:
            missing = [v for v in wenum if v not in renum]
            if missing:
                out.append(Change(_ptr(path, "enum"), "enum_narrowed", f"{wn} allows {missing}, which {rn} "
                                  "refuses"))
    for keyword in _LOWER:
        if keyword in reader:
            if keyword not in writer:
                out.append(Change(_ptr(path, keyword), f"{keyword}_added", f"{rn} adds {keyword} "
                                  f"{reader[keyword]}; {wn} has no lower bound"))
            elif reader[keyword] > writer[keyword]:
                out.append(Change(_ptr(path, keyword), f"{keyword}_increased", f"{rn} raises {keyword} from "
                                  f"{writer[keyword]} to {reader[keyword]}, refusing values {wn} allows"))
    for keyword in _UPPER:
        if keyword in reader:
            if keyword not in writer:
                out.append(Change(_ptr(path, keyword), f"{keyword}_added", f"{rn} adds {keyword} "
                                  f"{reader[keyword]}; {wn} has no upper bound"))
            elif reader[keyword] < writer[keyword]:
                out.append(Change(_ptr(path, keyword), f"{keyword}_decreased", f"{rn} lowers {keyword} from "
                                  f"{writer[keyword]} to {reader[keyword]}, refusing values {wn} allows"))
    if "multipleOf" in reader:
        w = writer.get("multipleOf")
        if w is None or (w / reader["multipleOf"]) % 1:
            allowed = "any number" if w is None else f"multiples of {w}"
            out.append(Change(_ptr(path, "multipleOf"), "multiple_of_changed", f"{rn} requires multiples of "
                              f"{reader['multipleOf']}; {wn} allows {allowed}"))
    if "pattern" in reader and reader["pattern"] != writer.get("pattern"):
        kind = "pattern_added" if "pattern" not in writer else "pattern_changed"
        out.append(Change(_ptr(path, "pattern"), kind, f"{rn} requires the pattern {reader['pattern']!r}; {wn} "
                          f"{'has none' if kind == 'pattern_added' else 'requires ' + repr(writer['pattern'])}"))


def _diff_object(reader: dict[str, Any], writer: dict[str, Any], path: str, out: list[Change], rn: str,
                 wn: str) -> None:
    rprops: dict[str, Any] = reader.get("properties") or {}
    wprops: dict[str, Any] = writer.get("properties") or {}
    for name, rsub in rprops.items():
        at = _ptr(path, "properties", name)
        if name in wprops:
            _diff(rsub, wprops[name], at, out, rn, wn)
            continue
        wsub = _fallback(writer, name)
        if wsub is False or _trivial(rsub):
            continue
        if _trivial(wsub):
            out.append(Change(at, "property_added_to_open_content_model", f"{wn} has an open content model "
                              f"(additionalProperties is not false), so its data may already hold {name!r} with any "
                              f"value; {rn} constrains {name!r}. Close {wn} or add the property as "
                              "unconstrained"))
        else:
            _diff(rsub, wsub, at, out, rn, wn)
    for name, wsub in wprops.items():
        if name in rprops:
            continue
        rsub = _fallback(reader, name)
        if rsub is False:
            out.append(Change(_ptr(path, "properties", name), "property_removed_from_closed_content_model",
                              f"{wn} data may hold {name!r}; {rn} has a closed content model "
                              "(additionalProperties: false) without it, so such data is refused"))
        else:
            _diff(rsub, wsub, _ptr(path, "properties", name), out, rn, wn)
    radd, wadd = reader.get("additionalProperties", True), writer.get("additionalProperties", True)
    if not _trivial(radd) and wadd is not False:
        if radd is False:
            out.append(Change(_ptr(path, "additionalProperties"), "content_model_closed", f"{wn} allows "
                              f"properties it does not name; {rn} sets additionalProperties: false and refuses them"))
        else:
            _diff(radd, wadd, _ptr(path, "additionalProperties"), out, rn, wn)
    added = sorted(set(reader.get("required") or []) - set(writer.get("required") or []))
    for name in added:
        out.append(Change(_ptr(path, "required"), "required_property_added", f"{wn} data may lack {name!r}; "
                          f"{rn} requires it"))


def check_version(mode: str, version: int, document: Any, earlier: dict[int, Any]) -> list[Violation]:
    """Check `document` (registered as `version`) against the earlier versions under a compatibility mode."""
    if mode == "NONE" or not earlier:
        return []
    versions = sorted(v for v in earlier if v < version)
    if not versions:
        return []
    against = versions if mode.endswith("_TRANSITIVE") else versions[-1:]
    base = mode.removesuffix("_TRANSITIVE")
    found: list[Violation] = []
    for old in against:
        new_name, old_name = f"v{version}", f"v{old}"
        if base in ("BACKWARD", "FULL"):
            found.extend(Violation(old, "backward", c) for c in reader_accepts(
                document, earlier[old], reader_name=new_name, writer_name=old_name))
        if base in ("FORWARD", "FULL"):
            found.extend(Violation(old, "forward", c) for c in reader_accepts(
                earlier[old], document, reader_name=old_name, writer_name=new_name))
    return found


def describe(event_type: str, version: int, mode: str, violations: Iterable[Violation]) -> str:
    lines = [f"{event_type} v{version} is not {mode} compatible; each breaking change and why:"]
    lines.extend(f"  - {v.describe(version)}" for v in violations)
    return "\n".join(lines)
