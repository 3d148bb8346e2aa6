"""A recording HTTP destination on loopback, with a scripted sequence of answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import web

from shared.embedded_nats import free_port
from tests.support.http import serve


@dataclass
class Received:
    at: float
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def event(self) -> dict[str, Any]:
        return msgspec.json.decode(self.body)


@dataclass
class RecordingSink:
    """POST /hooks records every request; answers follow `script` (then `default_status`)."""

    port: int = field(default_factory=free_port)
    default_status: int = 204
    script: list[int | tuple[int, dict[str, str]]] = field(default_factory=list)
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    on_request: Callable[[Received], None] | None = None
    _changed: asyncio.Condition | None = None
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def start(self) -> None:
        self._changed = asyncio.Condition()
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        self._runner = await serve(app, self.port)

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.delay:
            await asyncio.sleep(self.delay)
        answer = self.script.pop(0) if self.script else self.default_status
        status, headers = answer if isinstance(answer, tuple) else (answer, {})
        record = Received(time.monotonic(), dict(request.headers), body, status)
        self.received.append(record)
        if self.on_request:
            self.on_request(record)
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()
        return web.Response(status=status, headers=headers, text="ok" if status < 300 else f"failing with {status}")

    def succeeded(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.status < 300]

    async def wait_for(self, count: int, *, timeout: float = 15.0, successes: bool = True) -> list[Received]:
        """Wait until at least `count` requests (successful ones by default) arrived."""
        assert self._changed is not None

        def have() -> list[Received]:
            return self.succeeded() if successes else self.received

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: len(have()) >= count), timeout)
            except TimeoutError:
                raise AssertionError(f"sink got {len(have())} of {count} expected requests in {timeout}s "
                                     f"(all statuses: {[r.status for r in self.received]})") from None
        return have()
