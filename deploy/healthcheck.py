#!/usr/bin/env python3
"""The image's HEALTHCHECK: GET /healthz on the port of the service this container runs.

The container runs `hookmesh run <service>`; the service is read from PID 1's command line (or given as
the first argument), its port from the same settings the service uses (HOOKMESH_<SERVICE>_PORT or the
default). A container that runs no service (`hookmesh apply`, a one-off command) is healthy by definition.
Standard library only besides `shared.settings`, so the check costs a few milliseconds.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from shared.settings import SERVICES, Settings


def service_from_argv(argv: Sequence[str]) -> str | None:
    """`... run <service> ...` -> service; None when the command runs no service."""
    for i, arg in enumerate(argv[:-1]):
        if arg == "run" and argv[i + 1] in SERVICES:
            return argv[i + 1]
    return None


def pid1_argv(proc: Path = Path("/proc/1/cmdline")) -> list[str]:
    try:
        raw = proc.read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def healthz_url(service: str) -> str:
    settings = Settings.from_env()
    return f"http://127.0.0.1:{settings.ports[service]}/healthz"


def check(url: str, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def main(argv: Sequence[str]) -> int:
    if argv and argv[0] not in SERVICES:
        print(f"unknown service {argv[0]!r}; choose one of {', '.join(SERVICES)}", file=sys.stderr)
        return 2
    service = argv[0] if argv else service_from_argv(pid1_argv())
    if service is None:
        return 0
    url = healthz_url(service)
    if check(url):
        return 0
    print(f"{service}: {url} did not answer 200", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
