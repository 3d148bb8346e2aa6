"""Source authentication: each `auth.type` checks a request; secrets are compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

import standardwebhooks

from shared.config import Auth, resolve_secret
from shared.errors import Unauthorized


@dataclass(frozen=True)
class Authenticator:
    """A source's auth with its secrets resolved. `check` raises Unauthorized (with no secret in it)."""

    auth: Auth
    secret: bytes = b""
    header: str = ""

    def check(self, headers: Mapping[str, str], body: bytes) -> None:
        kind = self.auth.type
        if kind == "none":
            return
        if kind == "bearer":
            self._compare(_strip_scheme(headers.get("Authorization", ""), "Bearer"), "Authorization: Bearer")
        elif kind == "header":
            self._compare(headers.get(self.header, ""), self.header)
        elif kind == "basic":
            given = _strip_scheme(headers.get("Authorization", ""), "Basic")
            self._compare(given, "Authorization: Basic")
        elif kind == "hmac-sha256":
            self._check_hmac(headers, body)
        elif kind == "standard-webhooks":
            try:
                standardwebhooks.Webhook(self.secret.decode()).verify(body, dict(headers))
            except (standardwebhooks.webhooks.WebhookVerificationError, ValueError) as exc:
                raise Unauthorized(f"Standard Webhooks verification failed: {exc}") from None

    def _compare(self, given: str, where: str) -> None:
        if not given:
            raise Unauthorized(f"missing credentials: send {where}")
        if not hmac.compare_digest(given.encode(), self.secret):
            raise Unauthorized(f"wrong credentials in {where}")

    def _check_hmac(self, headers: Mapping[str, str], body: bytes) -> None:
        name = self.header or "X-Hookmesh-Signature"
        given = headers.get(name, "").strip()
        if not given:
            raise Unauthorized(f"missing signature: send {name}")
        prefix = self.auth.prefix or ""
        if prefix and given.startswith(prefix):
            given = given[len(prefix):]
        digest = hmac.new(self.secret, body, hashlib.sha256).digest()
        expected = digest.hex() if self.auth.encoding == "hex" else base64.b64encode(digest).decode()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise Unauthorized(f"signature in {name} does not match the body")


def _strip_scheme(value: str, scheme: str) -> str:
    prefix = scheme + " "
    return value[len(prefix):].strip() if value[: len(prefix)].lower() == prefix.lower() else ""


def build_authenticator(auth: Auth, *, where: str) -> Authenticator:
    """Resolve the secrets an auth needs; raises MissingSecretError naming the variable or file."""
    if auth.type == "none":
        return Authenticator(auth)
    if auth.type in ("bearer", "header"):
        token = resolve_secret(auth.token_env, auth.token_file, what=f"{where}.token")
        return Authenticator(auth, (token or "").encode(), auth.header or "")
    if auth.type == "basic":
        password = resolve_secret(auth.password_env, auth.password_file, what=f"{where}.password")
        encoded = base64.b64encode(f"{auth.username}:{password}".encode())
        return Authenticator(auth, encoded)
    secret = resolve_secret(auth.secret_env, auth.secret_file, what=f"{where}.secret") or ""
    return Authenticator(auth, secret.encode(), auth.header or "")
