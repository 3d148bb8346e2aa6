"""shared/config.py: loading the YAML configuration with precise errors, durations and rates, secrets."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from shared.config import (
    Config,
    Destination,
    Duration,
    Rate,
    Route,
    Source,
    convert,
    encode_item,
    load_config,
    parse_config,
    resolve_secret,
)
from shared.errors import ConfigError, MissingSecretError

FILE = "conf.yaml"
DEMO = Path(__file__).resolve().parents[2] / "shared" / "demo" / "hookmesh.yaml"

FULL = textwrap.dedent("""\
    sources:
      - name: demo
        kind: generic
        auth: {type: none}
        event_type: com.example.order.created
        schema_version: 1
        dedup_key: header:Idempotency-Key
        region_from: /region
        unroutable: deadletter
      - name: shop
        kind: zapier
        auth: {type: bearer, token_env: SHOP_TOKEN}
        type_from: /event/type
        version_from: /event/version
        dedup_key: /id
        subject_from: /order/id
        partitionkey_from: /customer
      - name: crm
        kind: make
        auth: {type: header, header: X-Api-Key, token_file: /run/secrets/crm}
        event_type: com.crm.contact.updated
      - name: forms
        kind: power-automate
        auth: {type: basic, username: forms, password_env: FORMS_PASSWORD}
        event_type: com.forms.submitted
        region: eu
      - name: github
        kind: n8n
        auth:
          type: hmac-sha256
          secret_env: GH_SECRET
          header: X-Hub-Signature-256
          prefix: "sha256="
          encoding: base64
        event_type: com.github.push
      - name: billing
        auth: {type: standard-webhooks, secret_file: /run/secrets/billing}
        event_type: com.billing.invoice.paid

    schemas:
      - type: com.example.order.created
        version: 1
        compatibility: BACKWARD_TRANSITIVE
        schema:
          $schema: https://json-schema.org/draft/2020-12/schema
          type: object
          required: [order_id, total]
          properties:
            order_id: {type: string, minLength: 1}
            total: {type: number, minimum: 0}
            currency: {type: string, pattern: "^[A-Z]{3}$"}

    destinations:
      - name: demo-sink
        url: http://127.0.0.1:8089/hooks
        secret_env: HOOKMESH_DEMO_SECRET
        timeout: 5s
        retry: {max_attempts: 5, initial: 500ms, max: 30s}
        allow_private_network: true
      - name: eu-crm
        url: https://crm.example.eu/hooks
        allowed_regions: [eu]
        rate_limit: 50/s
        max_in_flight: 4
        headers: {X-Team: ops}

    routes:
      - name: all-orders
        match: {type: [com.example.order.created]}
        to: [demo-sink]
      - name: big-eu-orders
        match:
          region: [eu]
          data: {total: [{numeric: [">", 100]}]}
        to: [eu-crm, demo-sink]

    consumers:
      - name: analytics
        types: [com.example.>, com.crm.*]
""")


def config_error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as excinfo:
        parse_config(textwrap.dedent(text), file=FILE)
    return excinfo.value


# --------------------------------------------------------------------------------------------- success

def test_demo_config_parses() -> None:
    config = parse_config(DEMO.read_text(encoding="utf-8"), file=str(DEMO))
    assert [s.name for s in config.sources] == ["demo"]
    assert config.schemas[0].key == "com.example.order.created.v1"
    destination = config.destinations[0]
    assert destination.timeout == 5.0
    assert (destination.retry.max_attempts, destination.retry.initial, destination.retry.max) == (5, 0.5, 30.0)
    assert config.routes[0].to == ["demo-sink"]


def test_full_config_parses() -> None:
    config = parse_config(FULL, file=FILE)
    assert isinstance(config, Config)
    sources = {s.name: s for s in config.sources}
    assert sources["demo"].dedup_key == "header:Idempotency-Key"
    assert sources["demo"].unroutable == "deadletter"
    assert sources["shop"].kind == "zapier"
    assert (sources["shop"].auth.type, sources["shop"].auth.token_env) == ("bearer", "SHOP_TOKEN")
    assert sources["shop"].type_from == "/event/type"
    assert sources["shop"].event_type is None
    assert (sources["crm"].auth.type, sources["crm"].auth.header, sources["crm"].auth.token_file) == (
        "header", "X-Api-Key", "/run/secrets/crm")
    assert (sources["forms"].auth.type, sources["forms"].auth.username, sources["forms"].auth.password_env) == (
        "basic", "forms", "FORMS_PASSWORD")
    github = sources["github"].auth
    assert (github.type, github.secret_env, github.header, github.prefix, github.encoding) == (
        "hmac-sha256", "GH_SECRET", "X-Hub-Signature-256", "sha256=", "base64")
    assert (sources["billing"].auth.type, sources["billing"].auth.secret_file) == (
        "standard-webhooks", "/run/secrets/billing")
    assert sources["billing"].kind == "generic"
    assert sources["billing"].auth.encoding == "hex"

    destinations = {d.name: d for d in config.destinations}
    assert destinations["eu-crm"].rate_limit == 50.0
    assert isinstance(destinations["eu-crm"].rate_limit, Rate)
    assert isinstance(destinations["demo-sink"].timeout, Duration)
    assert destinations["eu-crm"].timeout == 10.0  # default
    assert destinations["eu-crm"].allowed_regions == ["eu"]
    assert destinations["eu-crm"].headers == {"X-Team": "ops"}
    assert config.routes[1].match == {"region": ["eu"], "data": {"total": [{"numeric": [">", 100]}]}}
    assert config.consumers[0].types == ["com.example.>", "com.crm.*"]


@pytest.mark.parametrize("text", ["", "# nothing here\n", "{}\n"])
def test_empty_config(text: str) -> None:
    assert parse_config(text, file=FILE) == Config()


# ----------------------------------------------------------------------------------- durations, rates

@pytest.mark.parametrize(("written", "seconds", "encoded"), [
    ("200ms", 0.2, "200ms"),
    ("500ms", 0.5, "500ms"),
    ("5s", 5.0, "5s"),
    ("90s", 90.0, "90s"),
    ("2m", 120.0, "2m"),
    ("1h", 3600.0, "1h"),
    ("1d", 86400.0, "1d"),
    ("1.5s", 1.5, "1.5s"),
    ("10s", 10.0, "10s"),
    ("7d", 604800.0, "7d"),
])
def test_durations_decode_to_seconds_and_encode_back(written: str, seconds: float, encoded: str) -> None:
    config = parse_config(f"destinations:\n  - name: d\n    url: https://x.example\n    timeout: {written}\n",
                          file=FILE)
    destination = config.destinations[0]
    assert destination.timeout == pytest.approx(seconds)
    assert json.loads(encode_item(destination))["timeout"] == encoded


@pytest.mark.parametrize(("seconds", "text"), [(0.2, "200ms"), (10.0, "10s"), (3600.0, "1h"), (60.0, "1m")])
def test_duration_values_encode_to_the_written_form(seconds: float, text: str) -> None:
    assert encode_item(Duration(seconds)) == json.dumps(text).encode()


def test_retry_durations_encode_back() -> None:
    destination = convert({"name": "d", "url": "https://x.example",
                           "retry": {"max_attempts": 3, "initial": "200ms", "max": "2h"}}, Destination)
    assert (destination.retry.initial, destination.retry.max) == (0.2, 7200.0)
    assert json.loads(encode_item(destination))["retry"] == {"max_attempts": 3, "initial": "200ms", "max": "2h"}


@pytest.mark.parametrize(("written", "per_second", "encoded"), [
    ("50/s", 50.0, "50/s"),
    ("600/m", 10.0, "10/s"),
    ("0.5/s", 0.5, "0.5/s"),
    ("7", 7.0, "7/s"),
])
def test_rates(written: str, per_second: float, encoded: str) -> None:
    config = parse_config(f"destinations:\n  - name: d\n    url: https://x.example\n    rate_limit: {written}\n",
                          file=FILE)
    destination = config.destinations[0]
    assert destination.rate_limit == pytest.approx(per_second)
    assert json.loads(encode_item(destination))["rate_limit"] == encoded


def test_encoded_item_decodes_to_the_same_item() -> None:
    config = parse_config(FULL, file=FILE)
    for destination in config.destinations:
        again = convert(json.loads(encode_item(destination)), Destination)
        assert again == destination
    for source in config.sources:
        assert convert(json.loads(encode_item(source)), Source) == source
    for route in config.routes:
        assert convert(json.loads(encode_item(route)), Route) == route


# ------------------------------------------------------------------------------------------- errors

ERRORS: list[tuple[str, str, str, int, str]] = [
    # (id, yaml, field path, line, reason fragment)
    ("unknown-field", """\
        sources:
          - name: a
            event_type: a.b
            evnt_type: x
        """, "sources[0].evnt_type", 4, "unknown field 'evnt_type'; did you mean 'event_type'?"),
    ("unknown-top-level", """\
        sources: []
        destination: []
        """, "", 0, "unknown field 'destination'; did you mean 'destinations'?"),
    ("bad-enum", """\
        sources:
          - name: a
            event_type: a.b
            kind: zapir
        """, "sources[0].kind", 4, "'zapir'"),
    ("bad-auth-enum", """\
        sources:
          - name: a
            event_type: a.b
            auth: {type: oauth}
        """, "sources[0].auth.type", 4, "'oauth'"),
    ("bad-duration", """\
        destinations:
          - name: d
            url: https://x.example
            timeout: 5q
        """, "destinations[0].timeout", 4, "'5q'"),
    ("bad-retry-duration", """\
        destinations:
          - name: d
            url: https://x.example
            retry:
              initial: soon
        """, "destinations[0].retry.initial", 5, "'soon'"),
    ("negative-duration", """\
        destinations:
          - name: d
            url: https://x.example
            timeout: -5
        """, "destinations[0].timeout", 4, "negative"),
    ("bad-rate", """\
        destinations:
          - name: d
            url: https://x.example
            rate_limit: fast
        """, "destinations[0].rate_limit", 4, "'fast'"),
    ("zero-rate", """\
        destinations:
          - name: d
            url: https://x.example
            rate_limit: 0
        """, "destinations[0].rate_limit", 4, "expected a rate"),
    ("wrong-type", """\
        destinations:
          - name: d
            url: https://x.example
            max_in_flight: many
        """, "destinations[0].max_in_flight", 4, "Expected `int`"),
    ("missing-required", """\
        destinations:
          - url: https://x.example
        """, "destinations[0]", 2, "`name`"),
    ("invalid-name", """\
        sources:
          - name: Shop
            event_type: a.b
        """, "sources[0].name", 2, "'Shop' is not a valid name"),
    ("duplicate-name", """\
        sources:
          - name: a
            event_type: a.b
          - name: a
            event_type: a.c
        """, "sources[1].name", 4, "'a' is defined twice"),
    ("both-type", """\
        sources:
          - name: a
            event_type: a.b
            type_from: /type
        """, "sources[0]", 2, "exactly one of event_type or type_from"),
    ("neither-type", """\
        sources:
          - name: a
            kind: generic
        """, "sources[0]", 2, "exactly one of event_type or type_from"),
    ("pointer-not-pointer", """\
        sources:
          - name: a
            type_from: event.type
        """, "sources[0].type_from", 3, "JSON pointer"),
    ("auth-missing-secret", """\
        sources:
          - name: a
            event_type: a.b
            auth: {type: bearer}
        """, "sources[0].auth", 4, "needs exactly one of token_env or token_file"),
    ("auth-basic-no-username", """\
        sources:
          - name: a
            event_type: a.b
            auth: {type: basic, password_env: P}
        """, "sources[0].auth", 4, "needs username"),
    ("unknown-destination", """\
        destinations:
          - name: d
            url: https://x.example
        routes:
          - name: r
            to: [d, nope]
        """, "routes[0].to[1]", 6, "unknown destination 'nope'"),
    ("bad-route-pattern", """\
        destinations:
          - name: d
            url: https://x.example
        routes:
          - name: r
            to: [d]
            match:
              data:
                total: [{numeric: [">>", 5]}]
        """, "routes[0].match.data.total[0].numeric[0]", 9, "unknown comparison '>>'"),
    ("bad-route-pattern-scalar", """\
        destinations:
          - name: d
            url: https://x.example
        routes:
          - name: r
            to: [d]
            match:
              type: com.example.order
        """, "routes[0].match.type", 8, "written as a list"),
    ("invalid-json-schema", """\
        schemas:
          - type: a.b
            version: 1
            schema: {type: 12}
        """, "schemas[0].schema", 4, "not a valid JSON Schema"),
    ("schema-version-zero", """\
        schemas:
          - type: a.b
            version: 0
            schema: {type: object}
        """, "schemas[0].version", 3, "versions start at 1"),
    ("retry-zero-attempts", """\
        destinations:
          - name: d
            url: https://x.example
            retry: {max_attempts: 0}
        """, "destinations[0].retry.max_attempts", 4, "at least 1"),
    ("retry-max-below-initial", """\
        destinations:
          - name: d
            url: https://x.example
            retry: {initial: 10s, max: 1s}
        """, "destinations[0].retry", 4, "max at least initial"),
    ("bad-url", """\
        destinations:
          - name: d
            url: ftp://x.example
        """, "destinations[0].url", 3, "http:// or https://"),
]


@pytest.mark.parametrize(("text", "field", "line", "reason"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_config_errors_name_file_field_line_and_reason(text: str, field: str, line: int, reason: str) -> None:
    error = config_error(text)
    message = str(error)
    assert message.startswith(f"{FILE}: ")
    assert reason in message
    assert error.file == FILE
    if field:
        assert f"{field} (line {line})" in message
        assert error.field == f"{field} (line {line})"


def test_bad_yaml_syntax() -> None:
    error = config_error("""\
        sources:
          - name: a
           bad: [
        """)
    assert str(error).startswith(f"{FILE}: line 3: not valid YAML")
    assert error.field == "line 3"


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_top_level_must_be_a_mapping(text: str) -> None:
    error = config_error(text)
    assert str(error).startswith(f"{FILE}: ")
    assert "top level must be a mapping" in str(error)


def test_several_problems_are_reported_in_one_error() -> None:
    error = config_error("""\
        sources:
          - name: Shop
            event_type: a.b
          - name: ok
        destinations:
          - name: d
            url: https://x.example
            retry: {max_attempts: 0}
        routes:
          - name: r
            to: [nope]
        """)
    message = str(error)
    assert "sources[0].name (line 2): 'Shop' is not a valid name" in message
    assert "sources[1]" in message and "exactly one of event_type or type_from" in message
    assert "destinations[0].retry.max_attempts (line 8): counts every attempt" in message
    assert "routes[0].to[0] (line 11): unknown destination 'nope'" in message
    assert message.count(f"{FILE}: ") == 4


@pytest.mark.parametrize(("text", "expected"), [
    ("sources:\n  - name: a\n    event_type: a.b\n  - name: b\n", "sources[1] (line 4)"),
    ("destinations:\n  - name: d\n    url: https://x.example\nroutes:\n  - name: r\n    to:\n      - d\n"
     "      - nope\n", "routes[0].to[1] (line 8)"),
], ids=["second-source", "second-route-target"])
def test_line_of_an_item_in_a_block_sequence(text: str, expected: str) -> None:
    assert expected in str(config_error(text))


@pytest.mark.parametrize("value", [".nan", ".inf"])
def test_non_finite_timeout_is_rejected(value: str) -> None:
    config_error(f"destinations:\n  - name: d\n    url: https://x.example\n    timeout: {value}\n")


def test_load_config_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "hookmesh.yaml"
    path.write_text(FULL, encoding="utf-8")
    assert len(load_config(path).sources) == 6


def test_load_config_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("sources:\n  - name: Shop\n    event_type: a.b\n", encoding="utf-8")
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    assert str(excinfo.value).startswith(f"{path}: sources[0].name (line 2): ")


def test_load_config_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError, match="cannot read the file") as excinfo:
        load_config(path)
    assert excinfo.value.file == str(path)


# ------------------------------------------------------------------------------------------- secrets

SECRET = "s3cr3t-value-do-not-print"


def test_resolve_secret_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKMESH_TEST_TOKEN", SECRET)
    assert resolve_secret("HOOKMESH_TEST_TOKEN", None, what="sources[0].auth.token") == SECRET


def test_resolve_secret_from_file_is_stripped(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(f"  {SECRET}\n\n", encoding="utf-8")
    assert resolve_secret(None, str(path), what="sources[0].auth.token") == SECRET


def test_resolve_secret_neither() -> None:
    assert resolve_secret(None, None, what="destinations[0].secret") is None


@pytest.mark.parametrize("value", [None, ""])
def test_missing_env_names_the_variable_not_a_secret(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    monkeypatch.setenv("HOOKMESH_TEST_OTHER_SECRET", SECRET)
    if value is None:
        monkeypatch.delenv("HOOKMESH_TEST_ABSENT", raising=False)
    else:
        monkeypatch.setenv("HOOKMESH_TEST_ABSENT", value)
    with pytest.raises(MissingSecretError) as excinfo:
        resolve_secret("HOOKMESH_TEST_ABSENT", None, what="sources[0].auth.token")
    error = excinfo.value
    assert isinstance(error, ConfigError)
    assert "HOOKMESH_TEST_ABSENT" in str(error)
    assert error.field == "sources[0].auth.token"
    assert SECRET not in str(error)
    assert SECRET not in repr(error)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "absent"
    with pytest.raises(MissingSecretError) as excinfo:
        resolve_secret(None, str(path), what="destinations[0].secret")
    assert str(path) in str(excinfo.value)
    assert excinfo.value.field == "destinations[0].secret"


@pytest.mark.parametrize("content", ["", "\n", "   \n\t"])
def test_empty_secret_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(MissingSecretError, match="is empty") as excinfo:
        resolve_secret(None, str(path), what="destinations[0].secret")
    assert str(path) in str(excinfo.value)
