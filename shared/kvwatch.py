"""Following a NATS KV bucket: every entry, the stored ones first, goes to one callback.

`loaded` is set once the values stored when the watch began have all been applied, which is what a
service's readiness waits for. A failing callback is logged and the watch goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from nats.js import JetStreamContext
from nats.js.kv import KeyValue

log = logging.getLogger("hookmesh.kv")


class BucketWatch:
    def __init__(self, js: JetStreamContext, bucket: str, on_entry: Callable[[Any], None]) -> None:
        self.js = js
        self.bucket = bucket
        self.on_entry = on_entry
        self.loaded = asyncio.Event()
        self.kv: KeyValue | None = None
        self._watcher: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> KeyValue:
        self.kv = await self.js.key_value(self.bucket)
        self._watcher = await self.kv.watchall()
        self._task = asyncio.create_task(self._run(), name=f"watch-{self.bucket}")
        return self.kv

    async def _run(self) -> None:
        async for entry in self._watcher:
            if entry is None:
                self.loaded.set()
                continue
            try:
                self.on_entry(entry)
            except Exception:
                log.exception("could not apply %s from bucket %s", entry.key, self.bucket)

    async def stop(self) -> None:
        if self._watcher is not None:
            with contextlib.suppress(Exception):
                await self._watcher.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
