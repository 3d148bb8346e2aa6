"""Request bodies builders send: JSON, `application/x-www-form-urlencoded` and `multipart/form-data` fields.

JSON must be UTF-8 (RFC 8259). Form bodies honour a `charset` parameter. A multipart *file* part is
refused: hookmesh carries events, not files (send the file's URL instead).
"""

from __future__ import annotations

import codecs
import json
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qsl

import msgspec

from shared.errors import MalformedBody, UnsupportedMediaType

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
ACCEPTED = "application/json, application/*+json, application/x-www-form-urlencoded or multipart/form-data"


def parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    mime, _, rest = value.partition(";")
    params = {}
    for param in rest.split(";"):
        key, _, val = param.partition("=")
        if key.strip():
            params[key.strip().lower()] = val.strip().strip('"')
    return mime.strip().lower(), params


def _charset(params: dict[str, str], default: str = "utf-8") -> str:
    name = params.get("charset", default)
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise UnsupportedMediaType(f"charset {name} is unknown; send UTF-8") from None


def decode_body(content_type: str, body: bytes) -> tuple[Any, bool]:
    """The payload and whether it came from a form (so its values are strings and its keys flat)."""
    mime, params = parse_content_type(content_type)
    if mime == "application/json" or (mime.startswith("application/") and mime.endswith("+json")):
        if _charset(params) != "utf-8":
            raise UnsupportedMediaType(f"charset {params['charset']} is not accepted; JSON must be UTF-8")
        return decode_json(body), False
    if mime == FORM:
        return _form(body, _charset(params)), True
    if mime == MULTIPART:
        return _multipart(content_type, body), True
    raise UnsupportedMediaType(f"content type {mime or 'none'} is not accepted by this source; send {ACCEPTED}")


MAX_DEPTH = 64


def decode_json(body: bytes) -> Any:
    """JSON that every parser reads the same way: UTF-8, at most MAX_DEPTH levels, no repeated keys."""
    try:
        data = msgspec.json.decode(body)
    except UnicodeDecodeError as exc:
        raise UnsupportedMediaType(f"JSON must be UTF-8: invalid byte at {exc.start}") from None
    except msgspec.DecodeError as exc:
        raise MalformedBody(f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise MalformedBody(f"the body is nested more than {MAX_DEPTH} levels deep") from None
    _check_depth(data)
    if b"{" in body:
        # A repeated key is read as its last value here and perhaps as its first elsewhere; refuse it.
        json.loads(body, object_pairs_hook=_no_repeated_keys)
    return data


def _check_depth(data: Any) -> None:
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise MalformedBody(f"the body is nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, dict | list))


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise MalformedBody(f"the key {key!r} appears twice in one object; send it once")
        out[key] = value
    return out


def _add(fields: dict[str, Any], key: str, value: str) -> None:
    """Repeated keys become a list, as builders send arrays in forms."""
    if key in fields:
        existing = fields[key]
        fields[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
    else:
        fields[key] = value


def _form(body: bytes, charset: str) -> dict[str, Any]:
    try:
        text = body.decode(charset)
    except UnicodeDecodeError as exc:
        raise MalformedBody(f"the form body is not valid {charset}: {exc.reason} at byte {exc.start}") from None
    fields: dict[str, Any] = {}
    try:
        pairs = parse_qsl(text, keep_blank_values=True, encoding=charset, errors="strict")
    except UnicodeDecodeError as exc:
        raise MalformedBody(f"a percent-encoded form value is not valid {charset}: {exc.reason}") from None
    for key, value in pairs:
        _add(fields, key, value)
    return fields


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    _, params = parse_content_type(content_type)
    if not params.get("boundary"):
        raise MalformedBody("multipart/form-data needs a boundary parameter in Content-Type")
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + body)
    if not message.is_multipart():
        raise MalformedBody("the multipart body could not be parsed")
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            raise MalformedBody("a multipart part has no name in its Content-Disposition")
        if part.get_filename() is not None:
            raise UnsupportedMediaType(f"the multipart part {name!r} is a file; hookmesh accepts form fields only "
                                       "(send the file's URL as a field instead)")
        payload = part.get_payload(decode=True) or b""
        charset = part.get_content_charset() or "utf-8"
        try:
            _add(fields, str(name), payload.decode(charset))
        except (UnicodeDecodeError, LookupError):
            raise MalformedBody(f"the multipart field {name!r} is not valid {charset}") from None
    return fields


def unflatten(fields: Any, separator: str = "__") -> Any:
    """Zapier's flat keys to nesting: {"a__b": 1, "a__c__0": 2} → {"a": {"b": 1, "c": [2]}}."""
    if not isinstance(fields, dict):
        return fields
    root: dict[str, Any] = {}
    for key, value in fields.items():
        parts = [p for p in key.split(separator)] if separator in key.strip(separator) else [key]
        node = root
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    """Objects whose keys are exactly 0..n-1 become arrays."""
    if not isinstance(node, dict):
        return node
    converted = {k: _lists(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted) and sorted(map(int, converted)) == list(
            range(len(converted))):
        return [converted[str(i)] for i in range(len(converted))]
    return converted
