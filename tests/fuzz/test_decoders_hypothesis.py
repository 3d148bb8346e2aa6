"""Property-based fuzzing of the pure decoders with hypothesis: the envelope decoder, the config loader and
the pattern compiler either succeed or raise their one documented error; nothing else escapes, nothing hangs."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.config import parse_config
from shared.envelope import decode, encode
from shared.errors import ConfigError, MalformedEnvelope
from shared.patterns import PatternError, compile_pattern

FUZZ = settings(max_examples=100, deadline=1000, suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | \
    st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=5) |
                           st.dictionaries(st.text(max_size=12), inner, max_size=5), max_leaves=30)
ATTRIBUTES = ["specversion", "id", "source", "type", "time", "datacontenttype", "dataschema", "subject", "data",
              "correlationid", "region", "partitionkey", "sourceeventid", "traceparent", "tracestate", "replayof",
              "x", "extension1"]
envelope_like = st.dictionaries(st.sampled_from(ATTRIBUTES) | st.text(max_size=10), json_values, max_size=12)


@FUZZ
@given(st.binary(max_size=512))
def test_envelope_decoder_on_arbitrary_bytes(raw: bytes) -> None:
    with contextlib.suppress(MalformedEnvelope):
        decode(raw)


@FUZZ
@given(envelope_like)
def test_envelope_decoder_on_envelope_like_objects_round_trips_what_it_accepts(obj: dict[str, Any]) -> None:
    raw = msgspec.json.encode(obj)
    try:
        event = decode(raw)
    except MalformedEnvelope:
        return
    again = decode(encode(event))  # what it accepts, it writes back readable and unchanged
    assert msgspec.json.decode(encode(again)) == msgspec.json.decode(encode(event))
    assert msgspec.json.decode(encode(event)).keys() == {k for k, v in obj.items() if v is not None} | {
        k for k in obj if k not in ("time", "datacontenttype", "dataschema", "subject", "correlationid", "region",
                                    "partitionkey", "sourceeventid", "traceparent", "tracestate", "replayof")}


SECTIONS = ["sources", "schemas", "destinations", "routes", "consumers"]
config_like = st.dictionaries(st.sampled_from(SECTIONS) | st.text(max_size=8),
                              st.lists(st.dictionaries(st.sampled_from(
                                  ["name", "url", "type", "version", "schema", "match", "to", "auth", "kind",
                                   "event_type", "retry", "timeout", "types", "secret_env"]) | st.text(max_size=8),
                                  json_values, max_size=6), max_size=3) | json_values, max_size=5)


@FUZZ
@given(config_like)
def test_config_loader_on_config_like_documents(doc: dict[str, Any]) -> None:
    try:
        parse_config(json.dumps(doc, ensure_ascii=False), file="fuzz.yaml")  # JSON is YAML
    except ConfigError as exc:
        assert "fuzz.yaml" in str(exc)




def test_config_loader_on_a_surrogate_pair_escape() -> None:
    with pytest.raises(ConfigError):
        parse_config('{"sources": [], "\\ud83d\\ude00": []}', file="fuzz.yaml")


@FUZZ
@given(st.text(max_size=300))
def test_config_loader_on_arbitrary_text(text: str) -> None:
    with contextlib.suppress(ConfigError):
        parse_config(text, file="fuzz.yaml")


OPERATORS = ["prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists", "wildcard", "cidr",
             "$or", "other"]
matcher_like = st.dictionaries(st.sampled_from(OPERATORS), json_values, min_size=1, max_size=2)
pattern_like = st.recursive(
    st.lists(json_scalars | matcher_like, max_size=4),
    lambda inner: st.dictionaries(st.sampled_from(["type", "source", "data", "$or", "total", "region"]) |
                                  st.text(max_size=6), inner | st.lists(inner, max_size=3), max_size=4),
    max_leaves=20)


@FUZZ
@given(pattern_like | json_values, json_values)
def test_pattern_compiler_raises_only_pattern_errors_and_matchers_never_crash(pattern: Any, event: Any) -> None:
    try:
        matcher = compile_pattern(pattern)
    except PatternError as exc:
        assert str(exc)
        return
    assert matcher({"type": "com.acme.x", "data": event}) in (True, False)
