"""Process settings from the environment: NATS, ports, bind address, admin token, limits."""

from __future__ import annotations

import os
import re
import ssl
from dataclasses import dataclass, field
from typing import Any

from shared.durations import parse_duration

SERVICES = ("ingress", "validation", "routing", "delivery", "deadletter")
DEFAULT_PORTS = {"ingress": 8080, "deadletter": 8081, "validation": 8082, "routing": 8083, "delivery": 8084}
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a whole number; unset it or give one") from None


def dlq_max_age_from_env() -> float:
    """HOOKMESH_DLQ_MAX_AGE (a duration such as 30d or 12h): how long dead letters are kept."""
    raw = os.environ.get("HOOKMESH_DLQ_MAX_AGE")
    if not raw:
        return 30 * 86400.0
    try:
        seconds = parse_duration(raw)
    except ValueError as exc:
        raise SystemExit(f"HOOKMESH_DLQ_MAX_AGE={raw!r}: {exc}") from None
    if seconds <= 0:
        raise SystemExit(f"HOOKMESH_DLQ_MAX_AGE={raw!r} must be positive")
    return seconds


def dlq_max_msgs_from_env() -> int:
    """HOOKMESH_DLQ_MAX_MSGS: how many dead letters are kept at most (oldest go first); -1 for no limit."""
    return _env_int("HOOKMESH_DLQ_MAX_MSGS", -1)


def _env_port(name: str, default: int) -> int:
    """A port from the environment. Kubernetes service links inject NAME=tcp://10.0.0.1:8080 for a Service
    named like ours; that is not a setting of ours, so it is ignored rather than fatal."""
    raw = os.environ.get(name, "")
    if raw.startswith(("tcp://", "udp://")):
        return default
    return _env_int(name, default)


def port_env(service: str) -> str:
    return f"HOOKMESH_{service.upper()}_PORT"


def redact_url(url: str) -> str:
    """NATS_URL for logs and banners: `nats://user:secret@host` becomes `nats://***@host`, for every server."""
    return ",".join(re.sub(r"(?<=://)[^@/]*@", "***@", part) for part in url.split(","))


@dataclass(frozen=True)
class NatsAuth:
    """How to authenticate to NATS, from the environment (credentials in NATS_URL work as well):
    NATS_USER + NATS_PASSWORD, NATS_TOKEN, NATS_NKEY_SEED_FILE (an nkey seed), NATS_CREDS (a JWT .creds
    file), and TLS with NATS_CA (the CA to trust), NATS_CERT + NATS_KEY (a client certificate)."""

    user: str | None = None
    password: str | None = None
    token: str | None = None
    nkey_seed_file: str | None = None
    creds_file: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    @classmethod
    def from_env(cls) -> NatsAuth:
        env = {name: os.environ.get(f"NATS_{name}") or None
               for name in ("USER", "PASSWORD", "TOKEN", "NKEY_SEED_FILE", "CREDS", "CA", "CERT", "KEY")}
        if bool(env["CERT"]) != bool(env["KEY"]):
            raise SystemExit("NATS_CERT and NATS_KEY go together: set both for a client certificate, or neither")
        return cls(env["USER"], env["PASSWORD"], env["TOKEN"], env["NKEY_SEED_FILE"], env["CREDS"], env["CA"],
                   env["CERT"], env["KEY"])

    def connect_options(self) -> dict[str, Any]:
        """Keyword arguments for nats.connect; never logged (they hold secrets)."""
        options: dict[str, Any] = {}
        if self.user:
            options.update(user=self.user, password=self.password or "")
        if self.token:
            options["token"] = self.token
        if self.nkey_seed_file:
            options["nkeys_seed"] = self.nkey_seed_file
        if self.creds_file:
            options["user_credentials"] = self.creds_file
        if self.ca_file or self.cert_file:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_file)
            if self.cert_file and self.key_file:
                context.load_cert_chain(self.cert_file, self.key_file)
            options["tls"] = context
        return options


@dataclass(frozen=True)
class Settings:
    nats_url: str = DEFAULT_NATS_URL
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    admin_token: str | None = None
    replicas: int = 1
    max_body_bytes: int = 1024 * 1024
    drain_grace: float = 20.0
    publish_timeout: float = 5.0

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            nats_url=os.environ.get("NATS_URL") or DEFAULT_NATS_URL,
            host=os.environ.get("HOOKMESH_HOST") or "127.0.0.1",
            ports={s: _env_port(port_env(s), p) for s, p in DEFAULT_PORTS.items()},
            admin_token=os.environ.get("HOOKMESH_ADMIN_TOKEN") or None,
            replicas=_env_int("HOOKMESH_REPLICAS", 1),
            max_body_bytes=_env_int("HOOKMESH_MAX_BODY_BYTES", 1024 * 1024),
            drain_grace=float(_env_int("HOOKMESH_DRAIN_GRACE_SECONDS", 20)),
        )

    def url(self, service: str) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.ports[service]}"
