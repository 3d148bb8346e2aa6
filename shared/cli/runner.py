"""Running async commands: uvloop when present, signals that start a graceful drain."""

from __future__ import annotations

import asyncio
import importlib
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from shared.servicehost import Service


def run(coro: Coroutine[Any, Any, int | None]) -> int:
    try:
        import uvloop
        result = uvloop.run(coro)
    except ImportError:
        result = asyncio.run(coro)
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


def stop_on_signals() -> asyncio.Event:
    """An event set by the first SIGINT/SIGTERM; a second one exits at once."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def handler(signum: int) -> None:
        if stop.is_set():
            print("\nforced exit", file=sys.stderr)
            raise SystemExit(130)
        print(f"\n{signal.Signals(signum).name} received: draining (again to force)...", file=sys.stderr)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, handler, sig)
    return stop


def load_service(name: str) -> Service:
    from services import REGISTRY

    if name not in REGISTRY:
        raise SystemExit(f"unknown service {name!r}; choose one of {', '.join(REGISTRY)}")
    module_name, _, class_name = REGISTRY[name].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls()
