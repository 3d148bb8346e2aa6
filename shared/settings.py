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
            ports={s: _env_int(port_env(s), p) for s, p in DEFAULT_PORTS.items()},
            admin_token=os.environ.get("HOOKMESH_ADMIN_TOKEN") or None,
            replicas=_env_int("HOOKMESH_REPLICAS", 1),
            max_body_bytes=_env_int("HOOKMESH_MAX_BODY_BYTES", 1024 * 1024),
            drain_grace=float(_env_int("HOOKMESH_DRAIN_GRACE_SECONDS", 20)),
        )

    def url(self, service: str) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.ports[service]}"
