"""Serving an aiohttp app on loopback for a test: every stand-in server (sinks, receivers) uses this."""

from __future__ import annotations

from typing import Any

from aiohttp import web


async def serve(app: web.Application, port: int, **runner_options: Any) -> web.AppRunner:
    """Listen on 127.0.0.1:port; the caller calls `cleanup()` on the runner when done."""
    runner = web.AppRunner(app, access_log=None, **runner_options)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner
