"""The one decision validation makes: does this event satisfy its registered schema?"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import msgspec

from services.validation.registry import SchemaRegistry
from shared.config import Schema, Source, sunset_epoch
from shared.envelope import CloudEvent, parse_schema_uri, schema_uri


@dataclass
class Verdict:
    ok: bool
    reason: str = ""
    error: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    version: int | None = None
    schema: Schema | None = None


def restamp_replay(event: CloudEvent, source: Source | None) -> bool:
    """A replayed event is judged against the schema version its source declares now.

    Versions are immutable, so fixing a contract means registering a new version and pointing the
    source at it; this is what lets the events that failed the old one be replayed. Only a fixed
    `schema_version` is applied: a version read from the payload (`version_from`) is the sender's
    word and stays. Returns whether the event changed.
    """
    if source is None or source.schema_version is None or source.event_type != event.type:
        return False
    wanted = schema_uri(event.type, source.schema_version)
    if event.dataschema == wanted:
        return False
    event.dataschema = wanted
    return True


def judge(event: CloudEvent, registry: SchemaRegistry, now: float | None = None) -> Verdict:
    declared = parse_schema_uri(event.dataschema)
    if event.dataschema and declared is None:
        return Verdict(False, "schema_unknown", f"dataschema {event.dataschema!r} is not a hookmesh schema URI",
                       {"dataschema": event.dataschema})
    if declared and declared[0] != event.type:
        return Verdict(False, "schema_mismatch", f"dataschema names type {declared[0]} but the event is "
                       f"{event.type}", {"dataschema": event.dataschema})
    version = declared[1] if declared else registry.latest_version(event.type)
    if version is None:
        return Verdict(False, "schema_unknown", f"no schema is registered for {event.type}; register one "
                       "with `hookmesh apply`, then replay", {"type": event.type})
    compiled = registry.get(event.type, version)
    if compiled is None:
        return Verdict(False, "schema_unknown", f"{event.type} has no version {version}; register it with "
                       "`hookmesh apply`, then replay", {"type": event.type, "version": version})
    schema = compiled.schema
    if schema.deprecated and schema.sunset is not None and (now or time.time()) >= sunset_epoch(schema.sunset):
        return Verdict(False, "schema_sunset", f"{event.type} version {version} was deprecated and its sunset "
                       f"{schema.sunset.isoformat()} has passed; send a newer version",
                       {"dataschema": schema_uri(event.type, version), "sunset": schema.sunset.isoformat()},
                       version, schema)
    try:
        data = event.data_json()
    except msgspec.DecodeError as exc:
        return Verdict(False, "malformed_envelope", f"data is not JSON: {exc}", version=version)
    errors = registry.errors(compiled, data)
    if errors:
        summary = "; ".join(f"{e['pointer'] or '/'} {e['message']}" for e in errors[:3])
        more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
        return Verdict(False, "schema_invalid", f"{len(errors)} schema error(s): {summary}{more}",
                       {"errors": errors, "dataschema": schema_uri(event.type, version)}, version, schema)
    return Verdict(True, version=version, schema=schema)
