"""Source authentication: each `auth.type` checks a request; secrets are compared in constant time.

A secret may hold several values separated by whitespace (`"new old"`): any of them is accepted, which
is how a secret is rotated without downtime. Secrets never appear in errors or logs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import standardwebhooks

from shared.config import Auth, resolve_secret
from shared.errors import Unauthorized


@dataclass(frozen=True)
class Authenticator:
    """A source's auth with its secrets resolved. `check` raises Unauthorized (with no secret in it)."""

    auth: Auth
    secret: bytes = b""
    header: str = ""
    secrets: tuple[bytes, ...] = ()
    clock: Callable[[], float] = field(default=time.time, compare=False)

    @property
    def candidates(self) -> tuple[bytes, ...]:
        return self.secrets or (self.secret,)

    def check(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str] | None = None) -> None:
        kind = self.auth.type
        if kind == "none":
            return
        if kind == "bearer":
            self._compare(_strip_scheme(headers.get("Authorization", ""), "Bearer"), "Authorization: Bearer")
        elif kind == "header":
            self._compare(headers.get(self.header, ""), self.header)
        elif kind == "query":
            self._compare((query or {}).get(self.auth.param, ""), f"the ?{self.auth.param}= query parameter")
        elif kind == "basic":
            given = _strip_scheme(headers.get("Authorization", ""), "Basic")
            self._compare(given, "Authorization: Basic")
        elif kind == "hmac-sha256":
            self._check_hmac(headers, body)
        elif kind == "standard-webhooks":
            self._check_standard_webhooks(headers, body)

    def _compare(self, given: str, where: str) -> None:
        if not given:
            raise Unauthorized(f"missing credentials: send {where}")
        matched = False
        for secret in self.candidates:  # no early exit: the time does not tell which secret matched
            matched |= hmac.compare_digest(given.encode(), secret)
        if not matched:
            raise Unauthorized(f"wrong credentials in {where}")

    def _check_hmac(self, headers: Mapping[str, str], body: bytes) -> None:
        name = self.header or "X-Hookmesh-Signature"
        given = headers.get(name, "").strip()
        if not given:
            raise Unauthorized(f"missing signature: send {name}")
        prefix = self.auth.prefix or ""
        if prefix and given.startswith(prefix):
            given = given[len(prefix):]
        signed = body
        if self.auth.timestamp_header:
            signed = self._timestamp(headers).encode() + b"." + body
        matched = False
        for secret in self.candidates:
            digest = hmac.new(secret, signed, hashlib.sha256).digest()
            expected = digest.hex() if self.auth.encoding == "hex" else base64.b64encode(digest).decode()
            matched |= hmac.compare_digest(given.encode(), expected.encode())
        if not matched:
            raise Unauthorized(f"signature in {name} does not match the body")

    def _timestamp(self, headers: Mapping[str, str]) -> str:
        name = self.auth.timestamp_header or ""
        raw = headers.get(name, "").strip()
        if not raw:
            raise Unauthorized(f"missing timestamp: send {name}")
        try:
            stamp = float(raw)
        except ValueError:
            raise Unauthorized(f"the timestamp in {name} is not a number of seconds since the epoch") from None
        if stamp > 1e12:  # milliseconds
            stamp /= 1000
        skew = abs(self.clock() - stamp)
        if skew > self.auth.tolerance:
            raise Unauthorized(f"stale timestamp in {name}: {skew:.0f}s away from now, tolerance "
                               f"{self.auth.tolerance:.0f}s")
        return raw

    def _check_standard_webhooks(self, headers: Mapping[str, str], body: bytes) -> None:
        plain = {k.lower(): v for k, v in headers.items()}
        error: Exception | None = None
        for secret in self.candidates:
            try:
                # The signature covers the bytes; whether they are JSON is parse_body's call (a 400, not a 401).
                standardwebhooks.Webhook(secret.decode()).verify(body, plain, json_parse=False)
                return
            except (standardwebhooks.webhooks.WebhookVerificationError, ValueError) as exc:
                error = exc
        raise Unauthorized(f"Standard Webhooks verification failed: {error}")


def _strip_scheme(value: str, scheme: str) -> str:
    prefix = scheme + " "
    return value[len(prefix):].strip() if value[: len(prefix)].lower() == prefix.lower() else ""


def _split(value: str | None) -> tuple[bytes, ...]:
    return tuple(part.encode() for part in (value or "").split())


def build_authenticator(auth: Auth, *, where: str) -> Authenticator:
    """Resolve the secrets an auth needs; raises MissingSecretError naming the variable or file."""
    if auth.type == "none":
        return Authenticator(auth)
    if auth.type in ("bearer", "header", "query"):
        tokens = _split(resolve_secret(auth.token_env, auth.token_file, what=f"{where}.token"))
        return Authenticator(auth, tokens[0] if tokens else b"", auth.header or "", tokens)
    if auth.type == "basic":
        password = resolve_secret(auth.password_env, auth.password_file, what=f"{where}.password")
        encoded = base64.b64encode(f"{auth.username}:{password}".encode())
        return Authenticator(auth, encoded)
    secrets = _split(resolve_secret(auth.secret_env, auth.secret_file, what=f"{where}.secret"))
    return Authenticator(auth, secrets[0] if secrets else b"", auth.header or "", secrets)
