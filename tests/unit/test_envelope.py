"""shared/envelope.py: the CloudEvents 1.0 structured-mode codec, event ids and URI helpers."""

from __future__ import annotations

import itertools
import json
import uuid
from typing import Any

import msgspec
import pytest

from shared.envelope import (
    SPECVERSION,
    decode,
    encode,
    new_event,
    new_event_id,
    parse_schema_uri,
    schema_uri,
    source_name,
    source_uri,
)
from shared.errors import MalformedEnvelope

MINIMAL: dict[str, Any] = {"specversion": "1.0", "id": "evt-1", "source": "/hookmesh/sources/shop",
                           "type": "com.shop.order.created"}


def envelope(**attributes: Any) -> bytes:
    """A JSON envelope: MINIMAL plus `attributes` (a value of ... removes the attribute)."""
    doc = {**MINIMAL, **attributes}
    return json.dumps({k: v for k, v in doc.items() if v is not ...}).encode()


# ------------------------------------------------------------------------------------------ round trip

def test_decode_reads_known_attributes() -> None:
    event = decode(envelope(time="2024-01-01T00:00:00Z", subject="order-1", region="eu",
                            partitionkey="c-7", correlationid="corr-1", dataschema="hookmesh://schemas/a/v1"))
    assert (event.id, event.source, event.type) == ("evt-1", "/hookmesh/sources/shop", "com.shop.order.created")
    assert event.time == "2024-01-01T00:00:00Z"
    assert event.subject == "order-1"
    assert event.region == "eu"
    assert event.partitionkey == "c-7"
    assert event.correlationid == "corr-1"
    assert event.dataschema == "hookmesh://schemas/a/v1"
    assert event.extras == {}


def test_round_trip_preserves_every_attribute() -> None:
    original = envelope(time="2024-01-01T00:00:00Z", subject="s", region="eu", data={"total": 5})
    again = encode(decode(original))
    assert json.loads(again) == json.loads(original)
    assert encode(decode(again)) == again


@pytest.mark.parametrize("extras", [
    {"tenant": "acme"},
    {"comexampleext": 42, "flag": True},
    {"nested": {"a": [1, {"b": None}], "c": "d"}},
    {"list": [1, "two", 3.5]},
    {"nullable": None},
])
def test_unknown_attributes_are_kept_and_written_back(extras: dict[str, Any]) -> None:
    event = decode(envelope(**extras))
    assert {k: msgspec.json.decode(v) for k, v in event.extras.items()} == extras
    written = json.loads(encode(event))
    for key, value in extras.items():
        assert written[key] == value
    assert json.loads(encode(event)) == {**MINIMAL, **extras}


def test_extras_are_raw_json() -> None:
    event = decode(envelope(ext={"x": 1}))
    assert isinstance(event.extras["ext"], msgspec.Raw)


@pytest.mark.parametrize("data", [
    {"order_id": "o-1", "total": 12.5},
    [1, 2, 3],
    "a string",
    None,
    0,
    True,
])
def test_data_stays_raw_and_round_trips(data: Any) -> None:
    event = decode(envelope(data=data))
    assert isinstance(event.data, msgspec.Raw)
    assert msgspec.json.decode(event.data) == data
    assert event.data_json() == data
    written = json.loads(encode(event))
    assert "data" in written
    assert written["data"] == data


def test_data_keeps_the_original_bytes() -> None:
    raw = b'{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"b": 1,  "a": [ 2 ]}}'
    event = decode(raw)
    assert bytes(event.data) == b'{"b": 1,  "a": [ 2 ]}'


def test_absent_data_is_unset_and_not_written() -> None:
    event = decode(envelope())
    assert event.data is msgspec.UNSET
    assert event.data_json() is None
    assert "data" not in json.loads(encode(event))


@pytest.mark.parametrize("attributes", [
    {"id": "1", "source": "/s", "type": "t"},
    {"id": "1", "source": "/s", "type": "t", "data": msgspec.Raw(b"{}")},
])
def test_specversion_always_written(attributes: dict[str, Any]) -> None:
    written = json.loads(encode(new_event(**attributes)))
    assert written["specversion"] == SPECVERSION == "1.0"


def test_optional_attributes_left_unset_are_not_written() -> None:
    written = json.loads(encode(new_event(id="1", source="/s", type="t")))
    assert set(written) == {"specversion", "id", "source", "type"}


# -------------------------------------------------------------------------------------------- errors

@pytest.mark.parametrize(("raw", "fragment"), [
    (b"not json", "malformed"),
    (b"", "truncated"),
    (b"[]", "object"),
    (b'"event"', "object"),
    (envelope(id=...), "`id`"),
    (envelope(source=...), "`source`"),
    (envelope(type=...), "`type`"),
    (envelope(specversion=...), "`specversion`"),
    (envelope(id=""), "$.id"),
    (envelope(source=""), "$.source"),
    (envelope(type=""), "$.type"),
    (envelope(id=5), "$.id"),
    (envelope(type=["t"]), "$.type"),
    (envelope(region=5), "$.region"),
    (envelope(time=False), "$.time"),
    (envelope(specversion="0.3"), "'0.3'"),
    (envelope(specversion="1.1"), "'1.1'"),
])
def test_malformed_envelopes_raise_with_the_problem_named(raw: bytes, fragment: str) -> None:
    with pytest.raises(MalformedEnvelope) as excinfo:
        decode(raw)
    assert fragment in str(excinfo.value)


def test_wrong_specversion_message_says_which_version_is_spoken() -> None:
    with pytest.raises(MalformedEnvelope, match=r"unsupported specversion '0\.3'.*1\.0"):
        decode(envelope(specversion="0.3"))


def test_missing_field_message_names_the_field() -> None:
    with pytest.raises(MalformedEnvelope, match=r"missing required field `source`"):
        decode(envelope(source=...))


# ------------------------------------------------------------------------------------------ event ids

def test_new_event_id_is_uuid_v7() -> None:
    value = new_event_id()
    parsed = uuid.UUID(value)
    assert str(parsed) == value
    assert parsed.version == 7
    assert value[14] == "7"  # version nibble
    assert (parsed.int >> 62) & 0b11 == 0b10  # variant bits 10
    assert value[19] in "89ab"
    assert parsed.variant == uuid.RFC_4122


def test_new_event_ids_strictly_increase_and_are_unique() -> None:
    ids = [new_event_id() for _ in range(10_000)]
    assert all(a < b for a, b in itertools.pairwise(ids))
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 7 for i in ids[::997])


# ------------------------------------------------------------------------------------------ URIs

@pytest.mark.parametrize(("event_type", "version"), [
    ("com.example.order.created", 1),
    ("a", 12),
    ("order_v2-created", 300),
])
def test_schema_uri_round_trip(event_type: str, version: int) -> None:
    uri = schema_uri(event_type, version)
    assert uri == f"hookmesh://schemas/{event_type}/v{version}"
    assert parse_schema_uri(uri) == (event_type, version)


@pytest.mark.parametrize("junk", [
    None,
    "",
    "https://example.com/schemas/a/v1",
    "hookmesh://schemas/a/1",
    "hookmesh://schemas/a/vx",
    "hookmesh://schemas/a/v",
    "hookmesh://schemas//v1",
    "hookmesh://schemas/a/b/v1",
    "hookmesh://schemas/a/v1/extra",
    "hookmesh://schemas/a/v-1",
    "hookmesh://other/a/v1",
    " hookmesh://schemas/a/v1",
])
def test_parse_schema_uri_rejects_junk(junk: str | None) -> None:
    assert parse_schema_uri(junk) is None


def test_parse_schema_uri_rejects_trailing_newline() -> None:
    assert parse_schema_uri("hookmesh://schemas/a/v1\n") is None


@pytest.mark.parametrize("name", ["shop", "crm-eu", "a_b"])
def test_source_uri_and_name_round_trip(name: str) -> None:
    assert source_uri(name) == f"/hookmesh/sources/{name}"
    assert source_name(source_uri(name)) == name


@pytest.mark.parametrize("uri", ["/other/sources/shop", "https://example.com", "shop", ""])
def test_source_name_passes_foreign_uris_through(uri: str) -> None:
    assert source_name(uri) == uri
