"""services/ingress/auth.py: each source auth type accepts good requests and refuses bad ones."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import standardwebhooks
from multidict import CIMultiDict

from services.ingress.auth import Authenticator, build_authenticator
from shared.config import Auth, convert
from shared.errors import MissingSecretError, Unauthorized

SECRET = "tok-3f9a1c-very-secret"
BODY = b'{"order_id":"o-1","total":12.5}'
WH_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def authenticator(monkeypatch: pytest.MonkeyPatch, secret: str = SECRET, **auth: Any) -> Authenticator:
    monkeypatch.setenv("HOOKMESH_TEST_SECRET", secret)
    for field in ("token_env", "password_env", "secret_env"):
        if auth.pop(field, False):
            auth[field] = "HOOKMESH_TEST_SECRET"
    return build_authenticator(convert(auth, Auth), where="sources[0].auth")


def headers(**values: str) -> CIMultiDict[str]:
    return CIMultiDict({k.replace("_", "-"): v for k, v in values.items()})


def refuse(auth: Authenticator, request_headers: Mapping[str, str], body: bytes = BODY,
           secret: str = SECRET) -> Unauthorized:
    with pytest.raises(Unauthorized) as excinfo:
        auth.check(request_headers, body)
    error = excinfo.value
    assert error.status == 401
    assert secret not in str(error)
    assert secret not in error.detail
    assert secret not in repr(error.extra)
    return error


def hmac_hex(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def hmac_b64(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


# --------------------------------------------------------------------------------------------- none

@pytest.mark.parametrize("request_headers", [{}, {"Authorization": "Bearer whatever"}])
def test_none_accepts_everything(request_headers: dict[str, str]) -> None:
    auth = build_authenticator(Auth(), where="sources[0].auth")
    assert auth.check(request_headers, BODY) is None


# ------------------------------------------------------------------------------------------- bearer

@pytest.mark.parametrize("value", [f"Bearer {SECRET}", f"bearer {SECRET}", f"BEARER {SECRET}",
                                   f"Bearer   {SECRET}  "])
def test_bearer_accepts(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    auth = authenticator(monkeypatch, type="bearer", token_env=True)
    assert auth.check(headers(Authorization=value), BODY) is None


@pytest.mark.parametrize(("value", "fragment"), [
    ("Bearer wrong", "wrong credentials"),
    (f"Bearer {SECRET}x", "wrong credentials"),
    (f"Bearer {SECRET[:-1]}", "wrong credentials"),
    (f"Token {SECRET}", "missing credentials"),
    (SECRET, "missing credentials"),
    ("Bearer ", "missing credentials"),
    (f"Basic {SECRET}", "missing credentials"),
])
def test_bearer_refuses(monkeypatch: pytest.MonkeyPatch, value: str, fragment: str) -> None:
    auth = authenticator(monkeypatch, type="bearer", token_env=True)
    assert fragment in refuse(auth, headers(Authorization=value)).detail


def test_bearer_missing_header(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = authenticator(monkeypatch, type="bearer", token_env=True)
    assert "Authorization: Bearer" in refuse(auth, headers()).detail


def test_bearer_token_from_file(tmp_path: Any) -> None:
    path = tmp_path / "token"
    path.write_text(SECRET + "\n", encoding="utf-8")
    auth = build_authenticator(Auth(type="bearer", token_file=str(path)), where="sources[0].auth")
    assert auth.check(headers(Authorization=f"Bearer {SECRET}"), BODY) is None


# ------------------------------------------------------------------------------------------- header

def test_header_accepts_the_named_header(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = authenticator(monkeypatch, type="header", header="X-Api-Key", token_env=True)
    assert auth.check(headers(**{"X-Api-Key": SECRET}), BODY) is None
    assert auth.check(headers(**{"x-api-key": SECRET}), BODY) is None  # header names are case-insensitive


@pytest.mark.parametrize(("request_headers", "fragment"), [
    ({"X-Api-Key": "wrong"}, "wrong credentials in X-Api-Key"),
    ({"X-Other-Key": SECRET}, "missing credentials: send X-Api-Key"),
    ({"Authorization": f"Bearer {SECRET}"}, "missing credentials"),
    ({}, "missing credentials"),
])
def test_header_refuses(monkeypatch: pytest.MonkeyPatch, request_headers: dict[str, str], fragment: str) -> None:
    auth = authenticator(monkeypatch, type="header", header="X-Api-Key", token_env=True)
    assert fragment in refuse(auth, headers(**request_headers)).detail


# -------------------------------------------------------------------------------------------- basic

def basic(username: str, password: str, scheme: str = "Basic") -> str:
    return f"{scheme} " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.mark.parametrize("scheme", ["Basic", "basic"])
def test_basic_accepts(monkeypatch: pytest.MonkeyPatch, scheme: str) -> None:
    auth = authenticator(monkeypatch, type="basic", username="zapier", password_env=True)
    assert auth.check(headers(Authorization=basic("zapier", SECRET, scheme)), BODY) is None


@pytest.mark.parametrize(("value", "fragment"), [
    (basic("zapier", "wrong"), "wrong credentials"),
    (basic("other", SECRET), "wrong credentials"),
    ("Basic not-base64", "wrong credentials"),
    (f"Bearer {SECRET}", "missing credentials"),
    ("", "missing credentials"),
])
def test_basic_refuses(monkeypatch: pytest.MonkeyPatch, value: str, fragment: str) -> None:
    auth = authenticator(monkeypatch, type="basic", username="zapier", password_env=True)
    error = refuse(auth, headers(Authorization=value))
    assert fragment in error.detail
    assert base64.b64encode(f"zapier:{SECRET}".encode()).decode() not in error.detail


# ------------------------------------------------------------------------------------- hmac-sha256

@pytest.mark.parametrize(("auth_fields", "signature_header", "signature"), [
    ({}, "X-Hookmesh-Signature", hmac_hex(BODY)),
    ({"encoding": "hex"}, "x-hookmesh-signature", hmac_hex(BODY)),
    ({"encoding": "base64"}, "X-Hookmesh-Signature", hmac_b64(BODY)),
    ({"header": "X-Hub-Signature-256", "prefix": "sha256="}, "X-Hub-Signature-256", "sha256=" + hmac_hex(BODY)),
    ({"header": "X-Signature", "prefix": "sha256=", "encoding": "base64"}, "X-Signature",
     "sha256=" + hmac_b64(BODY)),
    ({"header": "X-Signature"}, "X-Signature", f"  {hmac_hex(BODY)} "),
])
def test_hmac_accepts(monkeypatch: pytest.MonkeyPatch, auth_fields: dict[str, str], signature_header: str,
                      signature: str) -> None:
    auth = authenticator(monkeypatch, type="hmac-sha256", secret_env=True, **auth_fields)
    assert auth.check(headers(**{signature_header: signature}), BODY) is None


@pytest.mark.parametrize(("auth_fields", "request_headers", "fragment"), [
    ({}, {"X-Hookmesh-Signature": hmac_hex(BODY + b" ")}, "does not match the body"),
    ({}, {"X-Hookmesh-Signature": hmac_hex(BODY, "other-secret")}, "does not match the body"),
    ({}, {"X-Hookmesh-Signature": hmac_b64(BODY)}, "does not match the body"),  # base64 where hex is configured
    ({}, {"X-Hookmesh-Signature": hmac_hex(BODY).upper() + "00"}, "does not match the body"),
    ({"prefix": "sha256="}, {"X-Hookmesh-Signature": "sha1=" + hmac_hex(BODY)}, "does not match the body"),
    ({"encoding": "base64"}, {"X-Hookmesh-Signature": hmac_hex(BODY)}, "does not match the body"),
    ({}, {}, "missing signature: send X-Hookmesh-Signature"),
    ({}, {"X-Hookmesh-Signature": "   "}, "missing signature"),
    ({"header": "X-Hub-Signature-256"}, {"X-Hookmesh-Signature": hmac_hex(BODY)},
     "missing signature: send X-Hub-Signature-256"),
])
def test_hmac_refuses(monkeypatch: pytest.MonkeyPatch, auth_fields: dict[str, str],
                      request_headers: dict[str, str], fragment: str) -> None:
    auth = authenticator(monkeypatch, type="hmac-sha256", secret_env=True, **auth_fields)
    assert fragment in refuse(auth, headers(**request_headers)).detail


def test_hmac_signature_covers_the_exact_body(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = authenticator(monkeypatch, type="hmac-sha256", secret_env=True)
    signed = headers(**{"X-Hookmesh-Signature": hmac_hex(BODY)})
    assert auth.check(signed, BODY) is None
    refuse(auth, signed, body=BODY.replace(b"12.5", b"99.5"))


# ------------------------------------------------------------------------------------ standard webhooks

def webhook_headers(body: bytes, *, when: datetime | None = None, secret: str = WH_SECRET,
                    msg_id: str = "msg_2b7e1") -> CIMultiDict[str]:
    when = when or datetime.now(UTC)
    signature = standardwebhooks.Webhook(secret).sign(msg_id, when, body.decode())
    return CIMultiDict({"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
                        "webhook-signature": signature})


def test_standard_webhooks_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = authenticator(monkeypatch, WH_SECRET, type="standard-webhooks", secret_env=True)
    assert auth.check(webhook_headers(BODY), BODY) is None


def test_standard_webhooks_accepts_mixed_case_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = authenticator(monkeypatch, WH_SECRET, type="standard-webhooks", secret_env=True)
    signed = webhook_headers(BODY)
    assert auth.check({k.title(): v for k, v in signed.items()}, BODY) is None


def test_standard_webhooks_refuses_tampered_body(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = authenticator(monkeypatch, WH_SECRET, type="standard-webhooks", secret_env=True)
    error = refuse(auth, webhook_headers(BODY), body=BODY.replace(b"12.5", b"0.01"), secret=WH_SECRET)
    assert "No matching signature" in error.detail


def test_standard_webhooks_refuses_stale_timestamp(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = authenticator(monkeypatch, WH_SECRET, type="standard-webhooks", secret_env=True)
    stale = webhook_headers(BODY, when=datetime.now(UTC) - timedelta(minutes=6))
    error = refuse(auth, stale, secret=WH_SECRET)
    assert "too old" in error.detail


def test_standard_webhooks_refuses_future_timestamp(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = authenticator(monkeypatch, WH_SECRET, type="standard-webhooks", secret_env=True)
    future = webhook_headers(BODY, when=datetime.now(UTC) + timedelta(minutes=6))
    assert "too new" in refuse(auth, future, secret=WH_SECRET).detail


def test_standard_webhooks_refuses_other_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = authenticator(monkeypatch, WH_SECRET, type="standard-webhooks", secret_env=True)
    other = "whsec_" + base64.b64encode(b"another-secret-of-32-bytes-long!").decode()
    refuse(auth, webhook_headers(BODY, secret=other), secret=WH_SECRET)


def test_standard_webhooks_only_checks_the_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = authenticator(monkeypatch, WH_SECRET, type="standard-webhooks", secret_env=True)
    body = b"not json"
    assert auth.check(webhook_headers(body), body) is None


@pytest.mark.parametrize("drop", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_standard_webhooks_refuses_missing_header(monkeypatch: pytest.MonkeyPatch, drop: str) -> None:
    auth = authenticator(monkeypatch, WH_SECRET, type="standard-webhooks", secret_env=True)
    signed = webhook_headers(BODY)
    del signed[drop]
    assert "Missing required headers" in refuse(auth, signed, secret=WH_SECRET).detail


@pytest.mark.parametrize("signature", ["garbage", "v1,%%%notbase64", "v2,abc"])
def test_standard_webhooks_refuses_malformed_signature(monkeypatch: pytest.MonkeyPatch, signature: str) -> None:
    auth = authenticator(monkeypatch, WH_SECRET, type="standard-webhooks", secret_env=True)
    signed = webhook_headers(BODY)
    signed["webhook-signature"] = signature
    refuse(auth, signed, secret=WH_SECRET)


# ------------------------------------------------------------------------------------------ building

@pytest.mark.parametrize(("auth", "variable"), [
    ({"type": "bearer", "token_env": "HOOKMESH_TEST_UNSET"}, "HOOKMESH_TEST_UNSET"),
    ({"type": "basic", "username": "u", "password_env": "HOOKMESH_TEST_UNSET"}, "HOOKMESH_TEST_UNSET"),
    ({"type": "hmac-sha256", "secret_env": "HOOKMESH_TEST_UNSET"}, "HOOKMESH_TEST_UNSET"),
    ({"type": "standard-webhooks", "secret_env": "HOOKMESH_TEST_UNSET"}, "HOOKMESH_TEST_UNSET"),
])
def test_build_authenticator_missing_secret(monkeypatch: pytest.MonkeyPatch, auth: dict[str, str],
                                            variable: str) -> None:
    monkeypatch.delenv(variable, raising=False)
    with pytest.raises(MissingSecretError) as excinfo:
        build_authenticator(convert(auth, Auth), where="sources[2].auth")
    assert variable in str(excinfo.value)
    assert excinfo.value.field is not None and excinfo.value.field.startswith("sources[2].auth.")
