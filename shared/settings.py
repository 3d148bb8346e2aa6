"""Process settings from the environment: NATS, ports, bind address, admin token, limits."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

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


def _env_port(name: str, default: int) -> int:
    """A port from the environment. Kubernetes service links inject NAME=tcp://10.0.0.1:8080 for a Service
    named like ours; that is not a setting of ours, so it is ignored rather than fatal."""
    raw = os.environ.get(name, "")
    if raw.startswith(("tcp://", "udp://")):
        return default
    return _env_int(name, default)


def port_env(service: str) -> str:
    return f"HOOKMESH_{service.upper()}_PORT"


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
