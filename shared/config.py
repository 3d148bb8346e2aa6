"""The configuration file of DESIGN.md as typed structs, loaded from YAML with precise errors.

Every error names the file, the field (as a path such as `sources[0].auth.type`), the line where
the file has one, and the reason. Unknown fields are errors too: a typo must not pass silently.
"""

from __future__ import annotations

import datetime
import difflib
import math
import os
import re
from pathlib import Path
from typing import Any, Literal

import jsonschema_rs
import msgspec
import yaml

from shared import subjects
from shared.durations import format_duration, parse_duration, parse_rate
from shared.errors import ConfigError, MissingSecretError
from shared.patterns import PatternError, compile_pattern


class Duration(float):
    """Seconds, written in the file as `200ms`, `5s`, `10m`, `1h`."""


class Rate(float):
    """Events per second, written in the file as `50/s`."""


SourceKind = Literal["generic", "zapier", "make", "n8n", "power-automate"]
AuthType = Literal["none", "bearer", "header", "query", "basic", "hmac-sha256", "standard-webhooks"]
Compatibility = Literal[
    "NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"
]


class _Item(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    pass


class Auth(_Item, kw_only=True):
    type: AuthType = "none"
    token_env: str | None = None
    token_file: str | None = None
    header: str | None = None
    username: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    secret_env: str | None = None
    secret_file: str | None = None
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str | None = None
    param: str = "token"                 # query: the query parameter holding the token
    timestamp_header: str | None = None  # hmac-sha256: signed as "{timestamp}.{body}" when set
    tolerance: Duration = Duration(300.0)


class Source(_Item, kw_only=True):
    name: str
    kind: SourceKind = "generic"
    auth: Auth = msgspec.field(default_factory=Auth)
    event_type: str | None = None
    type_from: str | None = None
    schema_version: int | None = None
    version_from: str | None = None
    dedup_key: str | None = None
    region: str | None = None
    region_from: str | None = None
    subject_from: str | None = None
    partitionkey_from: str | None = None
    unroutable: Literal["count", "deadletter"] = "count"
    batch: bool = False                  # a JSON array body is one event per element
    transform: str | None = None         # a JSONata expression mapping the payload into `data`
    allowed_types: list[str] | None = None  # with type_from: the only types this source may emit
    rate_limit: Rate | None = None
    max_body_bytes: int | None = None
    dedup_window: Duration = Duration(86400.0)
    description: str | None = None


class Schema(_Item, kw_only=True):
    type: str
    version: int
    schema: dict[str, Any]
    compatibility: Compatibility = "BACKWARD_TRANSITIVE"
    deprecated: bool = False
    sunset: datetime.date | None = None  # an ISO 8601 date; from its midnight UTC events are dead-lettered
    description: str | None = None

    @property
    def key(self) -> str:
        return f"{self.type}.v{self.version}"


class Retry(_Item, kw_only=True):
    max_attempts: int = 10
    initial: Duration = Duration(1.0)
    max: Duration = Duration(3600.0)
    max_age: Duration | None = None  # give up (dead letter) once an event waited this long for delivery


class Breaker(_Item, kw_only=True):
    """Circuit breaker per destination: open at `failure_ratio` over >= `min_attempts` in `window`, or
    after `consecutive_failures`; one probe after `cooldown`."""

    enabled: bool = True
    failure_ratio: float = 0.7
    min_attempts: int = 10
    window: Duration = Duration(60.0)
    consecutive_failures: int = 10
    cooldown: Duration = Duration(30.0)


class Destination(_Item, kw_only=True):
    name: str
    url: str
    secret_env: str | None = None
    secret_file: str | None = None
    allowed_regions: list[str] | None = None
    rate_limit: Rate | None = None
    timeout: Duration = Duration(10.0)
    retry: Retry = msgspec.field(default_factory=Retry)
    allow_private_network: bool = False
    max_in_flight: int = 16
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    ordered: bool = False           # events with a partitionkey arrive in order per key
    https_only: bool = False
    format: Literal["structured", "binary"] = "structured"
    paused: bool = False            # events wait in the stream (also: hookmesh destinations pause NAME)
    breaker: Breaker = msgspec.field(default_factory=Breaker)
    description: str | None = None


class Batch(_Item, kw_only=True):
    interval: Duration = Duration(5.0)
    max_events: int = 100


class Route(_Item, kw_only=True):
    name: str
    match: dict[str, Any] = msgspec.field(default_factory=dict)
    to: list[str]
    channel: Literal["stream", "batch"] = "stream"
    batch: Batch | None = None      # channel batch: one request every interval or max_events
    description: str | None = None


class Consumer(_Item, kw_only=True):
    name: str
    types: list[str]
    description: str | None = None


class Config(_Item, kw_only=True):
    sources: list[Source] = msgspec.field(default_factory=list)
    schemas: list[Schema] = msgspec.field(default_factory=list)
    destinations: list[Destination] = msgspec.field(default_factory=list)
    routes: list[Route] = msgspec.field(default_factory=list)
    consumers: list[Consumer] = msgspec.field(default_factory=list)


KINDS: dict[str, type[msgspec.Struct]] = {
    "sources": Source,
    "schemas": Schema,
    "destinations": Destination,
    "routes": Route,
    "consumers": Consumer,
}


def item_name(kind: str, item: Any) -> str:
    return item.key if kind == "schemas" else item.name


def _dec_hook(typ: type, obj: Any) -> Any:
    if typ is Duration:
        return Duration(parse_duration(obj))
    if typ is Rate:
        if isinstance(obj, int | float) and not isinstance(obj, bool) and math.isfinite(obj) and obj > 0:
            return Rate(obj)
        if not isinstance(obj, str):
            raise ValueError(f"expected a rate such as 50/s, got {obj!r}")
        return Rate(parse_rate(obj))
    raise NotImplementedError(f"no decoder for {typ}")  # msgspec's protocol: this hook does not handle typ


def convert(obj: Any, typ: type) -> Any:
    return msgspec.convert(obj, typ, dec_hook=_dec_hook)


_item_decoders = {
    kind: msgspec.json.Decoder(typ, dec_hook=_dec_hook) for kind, typ in KINDS.items()
}


def decode_item(kind: str, data: bytes) -> Any:
    return _item_decoders[kind].decode(data)


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, Duration):
        return format_duration(obj)
    if isinstance(obj, Rate):
        return f"{float(obj):g}/s"
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")  # msgspec's protocol, as in _dec_hook


_item_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)


def encode_item(item: msgspec.Struct) -> bytes:
    return _item_encoder.encode(item)


def to_builtins(item: Any) -> Any:
    return msgspec.to_builtins(item, enc_hook=_enc_hook)


# --------------------------------------------------------------------------------------------- loading

_PATH_TOKEN = re.compile(r"\.([A-Za-z0-9_$-]+)|\[(\d+)\]")


def _line_of(root: yaml.Node | None, path: str) -> int | None:
    """The 1-based line of the YAML node at a msgspec path such as `$.sources[0].auth`."""
    node = root
    line = None
    for key, index in _PATH_TOKEN.findall(path.removeprefix("$")):
        if node is None:
            break
        line = node.start_mark.line + 1
        if index and isinstance(node, yaml.SequenceNode):
            i = int(index)
            node = node.value[i] if i < len(node.value) else None
            if node is not None:
                line = node.start_mark.line + 1
        elif key and isinstance(node, yaml.MappingNode):
            found = [(k, v) for k, v in node.value if getattr(k, "value", None) == key]
            if not found:
                break
            node = found[0][1]
            line = found[0][0].start_mark.line + 1
        else:
            break
    return line


def _field_from_msgspec(message: str) -> tuple[str, str | None]:
    """Split msgspec's "reason - at `$.a[0].b`" into (reason, path)."""
    match = re.search(r" - at `(\$[^`]*)`$", message)
    if not match:
        return message, None
    return message[: match.start()], match.group(1)


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and check a configuration file; raise ConfigError naming file, field, line and reason."""
    file = str(path)
    try:
        text = Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror}", file=file) from None
    return parse_config(text, file=file)


def parse_config(text: str, *, file: str = "<config>") -> Config:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else None
        raise ConfigError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=file, field=where) from None
    if raw is None:
        raw = {}
    raw = _join_surrogates(raw, file)
    if not isinstance(raw, dict):
        raise ConfigError("the top level must be a mapping with sources, schemas, destinations, routes, "
                          "consumers", file=file)
    try:
        config = convert(raw, Config)
    except msgspec.ValidationError as exc:
        reason, path = _field_from_msgspec(str(exc))
        unknown = re.match(r"Object contains unknown field `([^`]+)`", reason)
        if unknown and path is not None:
            path = f"{path}.{unknown.group(1)}"
        reason = _suggest_field(reason)
        line = _line_of(root, path) if path else None
        field = (path or "").removeprefix("$.")
        if line:
            field = f"{field} (line {line})" if field else f"line {line}"
        raise ConfigError(reason, file=file, field=field or None) from None
    problems = check_config(config)
    if problems:
        lines = []
        for field, reason in problems:
            line = _line_of(root, "$." + field)
            lines.append(f"{field} (line {line}): {reason}" if line else f"{field}: {reason}")
        field, reason = lines[0].split(": ", 1)
        if len(lines) > 1:
            reason += "".join(f"\n  {file}: {more}" for more in lines[1:])
        raise ConfigError(reason, file=file, field=field)
    return config


_ALL_FIELDS = sorted({f for typ in (*KINDS.values(), Auth, Retry, Breaker, Batch, Config)
                      for f in typ.__struct_fields__})


def _suggest_field(reason: str) -> str:
    match = re.match(r"Object contains unknown field `([^`]+)`", reason)
    if not match:
        return reason
    close = difflib.get_close_matches(match.group(1), _ALL_FIELDS, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown field {match.group(1)!r}{hint}"


_SURROGATE = re.compile("[\ud800-\udfff]")


def _join_surrogates(node: Any, file: str) -> Any:
    """YAML reads the escape pair "\\ud83d\\ude00" as two lone surrogates; JSON reads one character. Join
    pairs the JSON way, and refuse a lone surrogate, which no UTF-8 text (NATS KV, logs) can hold."""
    if isinstance(node, str):
        if not _SURROGATE.search(node):
            return node
        try:
            return node.encode("utf-16", "surrogatepass").decode("utf-16")
        except UnicodeDecodeError:
            raise ConfigError(f"text {node[:40]!r} holds a lone surrogate escape; write the character itself",
                              file=file) from None
    if isinstance(node, dict):
        return {_join_surrogates(k, file): _join_surrogates(v, file) for k, v in node.items()}
    if isinstance(node, list):
        return [_join_surrogates(v, file) for v in node]
    return node


def check_config(config: Config, *, known_destinations: set[str] | None = None) -> list[tuple[str, str]]:
    """Cross-field checks msgspec cannot express. Returns (field path, reason) pairs, empty when fine."""
    problems: list[tuple[str, str]] = []
    for kind in ("sources", "destinations", "routes", "consumers"):
        seen: set[str] = set()
        for i, item in enumerate(getattr(config, kind)):
            if not subjects.NAME_RE.match(item.name):
                problems.append((f"{kind}[{i}].name", f"{item.name!r} is not a valid name: use lowercase "
                                 "letters, digits, '-' and '_', starting with a letter or digit"))
            if item.name in seen:
                problems.append((f"{kind}[{i}].name", f"{item.name!r} is defined twice"))
            seen.add(item.name)

    for i, src in enumerate(config.sources):
        at = f"sources[{i}]"
        if (src.event_type is None) == (src.type_from is None):
            problems.append((at, "set exactly one of event_type or type_from"))
        if src.event_type is not None and not subjects.TYPE_RE.match(src.event_type):
            problems.append((f"{at}.event_type", f"{src.event_type!r} is not a valid event type "
                             "(dot-separated letters, digits, '-' and '_')"))
        if src.schema_version is not None and src.version_from is not None:
            problems.append((at, "set at most one of schema_version or version_from"))
        if src.region is not None and src.region_from is not None:
            problems.append((at, "set at most one of region or region_from"))
        for fld in ("type_from", "version_from", "region_from", "subject_from", "partitionkey_from"):
            value = getattr(src, fld)
            if value is not None and not value.startswith("/"):
                problems.append((f"{at}.{fld}", f"{value!r} must be a JSON pointer such as /event/type"))
        if src.dedup_key is not None and not (src.dedup_key.startswith("header:") or
                                              src.dedup_key.startswith("/")):
            problems.append((f"{at}.dedup_key", "write header:NAME or a JSON pointer such as /id"))
        problems.extend(_check_auth(src.auth, f"{at}.auth"))
        problems.extend(_check_source_extras(src, at))

    seen_schemas: set[str] = set()
    for i, sch in enumerate(config.schemas):
        at = f"schemas[{i}]"
        if not subjects.TYPE_RE.match(sch.type):
            problems.append((f"{at}.type", f"{sch.type!r} is not a valid event type"))
        if sch.version < 1:
            problems.append((f"{at}.version", "versions start at 1"))
        if sch.key in seen_schemas:
            problems.append((at, f"{sch.type} version {sch.version} is defined twice"))
        seen_schemas.add(sch.key)
        if sch.sunset is not None and not sch.deprecated:
            problems.append((f"{at}.sunset", "a sunset needs deprecated: true"))
        try:
            jsonschema_rs.meta.validate(sch.schema)
            jsonschema_rs.validator_for(sch.schema)
        except (jsonschema_rs.ValidationError, ValueError, jsonschema_rs.ReferencingError) as exc:
            problems.append((f"{at}.schema", f"not a valid JSON Schema: {str(exc).splitlines()[0]}"))

    for i, dst in enumerate(config.destinations):
        at = f"destinations[{i}]"
        if not re.match(r"^https?://[^/\s]+", dst.url):
            problems.append((f"{at}.url", f"{dst.url!r} must be an http:// or https:// URL"))
        if dst.secret_env and dst.secret_file:
            problems.append((at, "set at most one of secret_env or secret_file"))
        if dst.retry.max_attempts < 1:
            problems.append((f"{at}.retry.max_attempts", "counts every attempt, so it is at least 1"))
        if dst.retry.initial <= 0 or dst.retry.max < dst.retry.initial:
            problems.append((f"{at}.retry", "initial must be positive and max at least initial"))
        if dst.timeout <= 0:
            problems.append((f"{at}.timeout", "must be positive"))
        if not 1 <= dst.max_in_flight <= 10_000:
            problems.append((f"{at}.max_in_flight", "must be between 1 and 10000"))
        if dst.https_only and not dst.url.startswith("https://"):
            problems.append((f"{at}.url", "https_only is set, so the URL must start with https://"))
        if dst.retry.max_age is not None and dst.retry.max_age <= 0:
            problems.append((f"{at}.retry.max_age", "must be positive"))
        brk = dst.breaker
        if not 0 < brk.failure_ratio <= 1 or brk.min_attempts < 1 or brk.consecutive_failures < 1:
            problems.append((f"{at}.breaker", "failure_ratio is in (0, 1]; min_attempts and consecutive_failures "
                             "are at least 1"))
        if brk.window <= 0 or brk.cooldown <= 0:
            problems.append((f"{at}.breaker", "window and cooldown must be positive"))

    destinations = {d.name for d in config.destinations} | (known_destinations or set())
    for i, route in enumerate(config.routes):
        at = f"routes[{i}]"
        if not route.to:
            problems.append((f"{at}.to", "name at least one destination"))
        for j, dest in enumerate(route.to):
            if dest not in destinations:
                problems.append((f"{at}.to[{j}]", f"unknown destination {dest!r}; define it under "
                                 "destinations"))
        try:
            compile_pattern(route.match)
        except PatternError as exc:
            problems.append((f"{at}.match{exc.path}", exc.reason))
        if route.batch is not None and route.channel != "batch":
            problems.append((f"{at}.batch", "batch settings need channel: batch"))
        if route.batch is not None and not (1 <= route.batch.max_events <= 10_000 and route.batch.interval > 0):
            problems.append((f"{at}.batch", "max_events is between 1 and 10000 and interval is positive"))

    for i, consumer in enumerate(config.consumers):
        for j, event_type in enumerate(consumer.types):
            if not re.match(r"^[A-Za-z0-9_.*>-]+$", event_type):
                problems.append((f"consumers[{i}].types[{j}]", f"{event_type!r} is not an event type"))
    return problems


def _check_auth(auth: Auth, at: str) -> list[tuple[str, str]]:
    need = {
        "bearer": ("token",),
        "header": ("token",),
        "query": ("token",),
        "basic": ("password",),
        "hmac-sha256": ("secret",),
        "standard-webhooks": ("secret",),
    }.get(auth.type, ())
    problems = []
    for secret in need:
        env, file = getattr(auth, f"{secret}_env"), getattr(auth, f"{secret}_file")
        if (env is None) == (file is None):
            problems.append((at, f"auth type {auth.type} needs exactly one of {secret}_env or {secret}_file"))
    if auth.type == "header" and not auth.header:
        problems.append((at, "auth type header needs header: NAME"))
    if auth.type == "basic" and not auth.username:
        problems.append((at, "auth type basic needs username"))
    return problems


def _check_source_extras(src: Source, at: str) -> list[tuple[str, str]]:
    """Checks of the fields issue 3 added: transform, allowed_types, limits, dedup window."""
    problems: list[tuple[str, str]] = []
    if src.transform is not None:
        import jsonata  # the maintained jsonata-python package

        try:
            jsonata.Jsonata(src.transform)
        except Exception as exc:
            problems.append((f"{at}.transform", f"not a valid JSONata expression: {exc}"))
    if src.allowed_types is not None:
        if src.type_from is None:
            problems.append((f"{at}.allowed_types", "only applies with type_from; event_type already fixes the "
                             "type"))
        for j, event_type in enumerate(src.allowed_types):
            if not subjects.TYPE_RE.match(event_type):
                problems.append((f"{at}.allowed_types[{j}]", f"{event_type!r} is not a valid event type"))
    if src.max_body_bytes is not None and not 1 <= src.max_body_bytes <= 64 * 1024 * 1024:
        problems.append((f"{at}.max_body_bytes", "must be between 1 and 67108864 (64 MiB)"))
    if src.dedup_window < 1:
        problems.append((f"{at}.dedup_window", "must be at least 1s"))
    if src.auth.type == "query" and not re.match(r"^[A-Za-z0-9_.-]+$", src.auth.param):
        problems.append((f"{at}.auth.param", f"{src.auth.param!r} is not a query parameter name"))
    return problems


def sunset_epoch(value: datetime.date) -> float:
    """Seconds since the epoch of a `sunset` date, read as its midnight UTC."""
    return datetime.datetime(value.year, value.month, value.day, tzinfo=datetime.UTC).timestamp()


# --------------------------------------------------------------------------------------------- secrets

def resolve_secret(env: str | None, file: str | None, *, what: str) -> str | None:
    """The secret named by an environment variable or a file; None when neither is configured.

    Raises MissingSecretError naming the variable or the path (never the value).
    """
    if env:
        value = os.environ.get(env)
        if not value:
            raise MissingSecretError(f"environment variable {env} is not set; export it before starting",
                                     field=what)
        return value
    if file:
        try:
            value = Path(file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise MissingSecretError(f"cannot read secret file {file}: {exc.strerror}", field=what) from None
        if not value:
            raise MissingSecretError(f"secret file {file} is empty", field=what)
        return value
    return None
