"""Registering schema versions: each version is immutable, and a new one must pass its compatibility mode.

`apply_config` (and so `hookmesh apply`, `apply --dry-run` and `hookmesh schemas check`) calls
`registration_problems` with the versions already stored; what it returns refuses the whole apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from shared.compatibility import check_version, describe
from shared.config import Schema, decode_item


def stored_schemas(stored: Mapping[str, bytes]) -> dict[str, Schema]:
    """The schema versions in a bucket read (`{kind}.{name}` → bytes), by `{type}.v{N}`."""
    out: dict[str, Schema] = {}
    for key, value in stored.items():
        kind, _, name = key.partition(".")
        if kind != "schemas":
            continue
        try:
            out[name] = decode_item("schemas", value)
        except (msgspec.ValidationError, msgspec.DecodeError):
            continue
    return out


def _canonical(document: Any) -> bytes:
    return msgspec.json.encode(document, order="sorted")


def registration_problems(wanted: list[Schema], stored: Mapping[str, Schema]) -> list[tuple[str, str]]:
    """(field, reason) pairs for every version that changes a stored document or breaks compatibility."""
    problems: list[tuple[str, str]] = []
    every: dict[str, dict[int, Any]] = {}
    for schema in stored.values():
        every.setdefault(schema.type, {})[schema.version] = schema.schema
    for schema in wanted:
        every.setdefault(schema.type, {}).setdefault(schema.version, schema.schema)
    for i, schema in enumerate(wanted):
        at = f"schemas[{i}]"
        old = stored.get(schema.key)
        if old is not None:
            if _canonical(old.schema) != _canonical(schema.schema):
                problems.append((f"{at}.schema", f"{schema.type} version {schema.version} is already registered "
                                 "with a different document, and versions are immutable: register the change as "
                                 f"version {max(every[schema.type]) + 1}"))
            continue
        earlier = {v: doc for v, doc in every[schema.type].items() if v < schema.version}
        violations = check_version(schema.compatibility, schema.version, schema.schema, earlier)
        if violations:
            problems.append((at, describe(schema.type, schema.version, schema.compatibility, violations)))
    return problems
