"""The schema registry as validation sees it: compiled validators cached by (type, version)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import jsonschema_rs

from shared.config import Schema
from shared.configstore import Snapshot
from shared.jsonpointer import build


@dataclass(frozen=True)
class Compiled:
    schema: Schema
    validator: Any


# JSON Schema 2020-12 keywords that can fail validation; the keyword of an error is the last of these
# in its schema path (the library's error kinds have their own names: Constant, FalseSchema, ...).
_KEYWORDS = frozenset({
    "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
    "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxContains", "minContains",
    "maxProperties", "minProperties", "required", "dependentRequired", "allOf", "anyOf", "oneOf", "not",
    "if", "then", "else", "dependentSchemas", "prefixItems", "items", "contains", "properties",
    "patternProperties", "additionalProperties", "propertyNames", "unevaluatedItems",
    "unevaluatedProperties", "format", "contentEncoding", "contentMediaType", "$ref", "$dynamicRef",
})


def _keyword(kind: Any, schema_path: list[str | int]) -> str:
    for part in reversed(schema_path):
        if isinstance(part, str) and part in _KEYWORDS:
            return part
    name = type(kind).__name__
    return "false" if name == "FalseSchema" else name[:1].lower() + name[1:]


class SchemaRegistry:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self._cache: dict[str, Compiled] = {}

    def invalidate(self, key: str) -> None:
        self._cache.pop(key, None)

    def latest_version(self, event_type: str) -> int | None:
        prefix = f"{event_type}.v"
        versions = [int(k[len(prefix):]) for k in self.snapshot.schemas
                    if k.startswith(prefix) and re.fullmatch(r"\d+", k[len(prefix):])]
        return max(versions) if versions else None

    def get(self, event_type: str, version: int) -> Compiled | None:
        key = f"{event_type}.v{version}"
        compiled = self._cache.get(key)
        if compiled is not None:
            return compiled
        schema = self.snapshot.schemas.get(key)
        if schema is None:
            return None
        compiled = Compiled(schema, jsonschema_rs.validator_for(schema.schema))
        self._cache[key] = compiled
        return compiled

    @staticmethod
    def errors(compiled: Compiled, data: Any, limit: int = 100) -> list[dict[str, str]]:
        """Every validation error with its JSON pointer, keyword, schema location and message."""
        out = []
        for error in compiled.validator.iter_errors(data):
            out.append({
                "pointer": build(error.instance_path),
                "keyword": _keyword(error.kind, list(error.schema_path)),
                "schema_pointer": build(error.schema_path),
                "message": error.message,
            })
            if len(out) >= limit:
                break
        return out
