"""services/ingress/handler.py: content type, body parsing, and turning a body into a CloudEvent."""

from __future__ import annotations

import json
import uuid
from typing import Any

import msgspec
import pytest

from services.ingress.handler import build_event, check_content_type, needs_decoded, parse_body
from shared.config import Source, convert
from shared.envelope import decode, encode
from shared.errors import MalformedBody, Unprocessable, UnsupportedMediaType


def source(**fields: Any) -> Source:
    return convert({"name": "shop", **fields}, Source)


def event_for(src: Source, payload: Any, headers: dict[str, str] | None = None) -> Any:
    body = json.dumps(payload).encode()
    data = parse_body(body, needs_decoded(src))
    return build_event(src, body, data, headers or {})


# ------------------------------------------------------------------------------------- content type

@pytest.mark.parametrize("content_type", [
    "application/json",
    "APPLICATION/JSON",
    "application/json; charset=utf-8",
    "application/json;charset=UTF-8",
    'application/json; charset="utf-8"',
    "application/json; charset=utf8",
    "application/json; boundary=x",
    "application/cloudevents+json",
    "application/problem+json; charset=utf-8",
    "application/vnd.api+json",
    " application/json ",
])
def test_json_content_types_are_accepted(content_type: str) -> None:
    assert check_content_type(content_type) is None


@pytest.mark.parametrize(("content_type", "fragment"), [
    ("text/plain", "text/plain"),
    ("text/json", "text/json"),
    ("application/xml", "application/xml"),
    ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded"),
    ("multipart/form-data; boundary=x", "multipart/form-data"),
    ("application/jsonx", "application/jsonx"),
    ("", "none"),
    ("   ", "none"),
    ("application/json; charset=latin-1", "latin-1"),
    ("application/json; charset=iso-8859-1", "iso-8859-1"),
    ("application/cloudevents+json; charset=utf-16", "utf-16"),
])
def test_other_content_types_are_refused(content_type: str, fragment: str) -> None:
    with pytest.raises(UnsupportedMediaType) as excinfo:
        check_content_type(content_type)
    assert excinfo.value.status == 415
    assert fragment in excinfo.value.detail


# ------------------------------------------------------------------------------------------- bodies

@pytest.mark.parametrize("body", [b'{"a": 1}', b"[1, 2]", b'"text"', b"null", b"12"])
def test_parse_body_keeps_raw_when_not_decoding(body: bytes) -> None:
    parsed = parse_body(body, decode=False)
    assert isinstance(parsed, msgspec.Raw)
    assert bytes(parsed) == body


def test_parse_body_decodes_when_asked() -> None:
    assert parse_body(b'{"a": [1, {"b": null}]}', decode=True) == {"a": [1, {"b": None}]}


@pytest.mark.parametrize("decode_it", [True, False])
@pytest.mark.parametrize("body", [b"", b"{", b"not json", b'{"a": 1} trailing', b"{'a': 1}", b"\xff\xfe"])
def test_parse_body_errors_are_malformed_body(body: bytes, decode_it: bool) -> None:
    with pytest.raises(MalformedBody) as excinfo:
        parse_body(body, decode=decode_it)
    assert excinfo.value.status == 400
    assert "not valid JSON" in excinfo.value.detail


@pytest.mark.parametrize(("fields", "expected"), [
    ({"event_type": "a.b"}, False),
    ({"event_type": "a.b", "dedup_key": "header:Idempotency-Key"}, False),
    ({"event_type": "a.b", "dedup_key": "/id"}, True),
    ({"type_from": "/type"}, True),
    ({"event_type": "a.b", "version_from": "/v"}, True),
    ({"event_type": "a.b", "region_from": "/r"}, True),
    ({"event_type": "a.b", "subject_from": "/s"}, True),
    ({"event_type": "a.b", "partitionkey_from": "/p"}, True),
])
def test_needs_decoded(fields: dict[str, str], expected: bool) -> None:
    assert needs_decoded(source(**fields)) is expected


# -------------------------------------------------------------------------------------- build_event

def test_build_event_with_fixed_type() -> None:
    body = b'{"order_id": "o-1", "total": 12.5}'
    src = source(event_type="com.shop.order.created", schema_version=3)
    event = build_event(src, body, parse_body(body, False), {"X-Correlation-Id": "corr-9"})
    assert uuid.UUID(event.id).version == 7
    assert event.specversion == "1.0"
    assert event.source == "/hookmesh/sources/shop"
    assert event.type == "com.shop.order.created"
    assert event.time is not None and event.time.endswith("Z")
    assert event.datacontenttype == "application/json"
    assert event.dataschema == "hookmesh://schemas/com.shop.order.created/v3"
    assert bytes(event.data) == body
    assert event.correlationid == "corr-9"
    assert (event.region, event.subject, event.partitionkey) == (None, None, None)
    again = decode(encode(event))
    assert again.data_json() == {"order_id": "o-1", "total": 12.5}


def test_build_event_without_version_has_no_dataschema() -> None:
    event = event_for(source(event_type="com.shop.order.created"), {"x": 1})
    assert event.dataschema is None
    assert event.correlationid is None


def test_ids_differ_between_events() -> None:
    src = source(event_type="a.b")
    assert event_for(src, {}).id != event_for(src, {}).id


@pytest.mark.parametrize(("payload", "expected"), [
    ({"event": {"type": "com.shop.order.paid"}}, "com.shop.order.paid"),
    ({"event": {"type": "order_created-v2"}}, "order_created-v2"),
])
def test_type_from_pointer(payload: dict[str, Any], expected: str) -> None:
    event = event_for(source(type_from="/event/type"), payload)
    assert event.type == expected


@pytest.mark.parametrize(("payload", "fragment"), [
    ({}, "no event type at /event/type"),
    ({"event": {}}, "no event type at /event/type"),
    ({"event": {"type": None}}, "no event type at /event/type"),
    ({"event": {"type": "has space"}}, "not a valid event type"),
    ({"event": {"type": "a..b"}}, "not a valid event type"),
    ({"event": {"type": ""}}, "not a valid event type"),
    ({"event": {"type": 5}}, "not a valid event type"),
    ({"event": {"type": ["a.b"]}}, "not a valid event type"),
    ([1, 2], "no event type"),
])
def test_type_from_errors_are_unprocessable(payload: Any, fragment: str) -> None:
    with pytest.raises(Unprocessable) as excinfo:
        event_for(source(type_from="/event/type"), payload)
    assert excinfo.value.status == 422
    assert fragment in excinfo.value.detail


@pytest.mark.parametrize(("version", "expected"), [("v2", 2), ("2", 2), (2, 2), ("v10", 10), (1, 1)])
def test_version_from(version: Any, expected: int) -> None:
    event = event_for(source(event_type="a.b", version_from="/meta/version"), {"meta": {"version": version}})
    assert event.dataschema == f"hookmesh://schemas/a.b/v{expected}"


@pytest.mark.parametrize("version", ["two", "v", "V2", "2.0", 2.5, 0, -1, "v0", True, None, [2], {"v": 2}])
def test_bad_version_is_unprocessable(version: Any) -> None:
    with pytest.raises(Unprocessable) as excinfo:
        event_for(source(event_type="a.b", version_from="/meta/version"), {"meta": {"version": version}})
    assert "/meta/version" in excinfo.value.detail


def test_missing_version_is_unprocessable() -> None:
    with pytest.raises(Unprocessable, match="no schema version at /meta/version"):
        event_for(source(event_type="a.b", version_from="/meta/version"), {})


def test_superscript_version_is_unprocessable() -> None:
    with pytest.raises(Unprocessable):
        event_for(source(event_type="a.b", version_from="/v"), {"v": "v\u00b2"})


@pytest.mark.parametrize(("fields", "payload", "region"), [
    ({"region": "eu"}, {"region": "us"}, "eu"),
    ({"region_from": "/region"}, {"region": "us"}, "us"),
    ({"region_from": "/customer/region"}, {"customer": {"region": "ap-1"}}, "ap-1"),
    ({"region_from": "/region"}, {}, None),
    ({"region_from": "/region"}, {"region": None}, None),
    ({}, {"region": "us"}, None),
])
def test_region(fields: dict[str, str], payload: dict[str, Any], region: str | None) -> None:
    assert event_for(source(event_type="a.b", **fields), payload).region == region


@pytest.mark.parametrize(("payload", "subject"), [
    ({"order": {"id": "o-1"}}, "o-1"),
    ({"order": {"id": 42}}, "42"),
    ({"order": {"id": 0}}, "0"),
    ({"order": {}}, None),
])
def test_subject_from(payload: dict[str, Any], subject: str | None) -> None:
    assert event_for(source(event_type="a.b", subject_from="/order/id"), payload).subject == subject


@pytest.mark.parametrize(("payload", "key"), [
    ({"customer": "c-7"}, "c-7"),
    ({"customer": 7}, "7"),
    ({}, None),
])
def test_partitionkey_from(payload: dict[str, Any], key: str | None) -> None:
    assert event_for(source(event_type="a.b", partitionkey_from="/customer"), payload).partitionkey == key


def test_pointers_read_escaped_keys() -> None:
    src = source(type_from="/meta/event~1type", subject_from="/a~0b")
    event = event_for(src, {"meta": {"event/type": "x.y"}, "a~b": "s-1"})
    assert (event.type, event.subject) == ("x.y", "s-1")
