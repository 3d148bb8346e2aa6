"""Batch channel: group a destination's batch events and settle them together after one request.

Every message handler joins the open batch and waits for its result. The batch is flushed when it
holds `max_events` or `interval` after its first event, whichever comes first. Messages stay unacked
in JetStream until the batch request succeeded (the consumer holds at most `max_events`), so a
restart loses nothing: the unacked messages are redelivered and batched again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"


def batch_body(events: list[bytes]) -> bytes:
    """A JSON array of structured-mode CloudEvents, each kept byte for byte."""
    return b"[" + b",".join(events) + b"]"


def batch_id(event_ids: list[str]) -> str:
    """A stable webhook-id for a batch: the same events give the same id, whatever their order."""
    digest = hashlib.sha256("\n".join(sorted(event_ids)).encode()).hexdigest()[:32]
    return f"batch_{digest}"


@dataclass
class _Open(Generic[T, R]):
    items: list[T] = field(default_factory=list)
    futures: list[asyncio.Future[R]] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


class Batcher(Generic[T, R]):
    """`flush(items)` returns one result per item, in order; `add(item)` answers that item's result."""

    def __init__(self, max_events: int, interval: float, flush: Callable[[list[T]], Awaitable[list[R]]]) -> None:
        self.max_events = max_events
        self.interval = interval
        self._flush = flush
        self._open: _Open[T, R] = _Open()
        self._running: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> int:
        return len(self._open.items)

    async def add(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        batch = self._open
        batch.items.append(item)
        batch.futures.append(future)
        if len(batch.items) >= self.max_events:
            self._close()
        elif batch.timer is None:
            batch.timer = loop.call_later(self.interval, self._close)
        return await asyncio.shield(future)

    def _close(self) -> None:
        batch, self._open = self._open, _Open()
        if batch.timer is not None:
            batch.timer.cancel()
        if not batch.items:
            return
        task = asyncio.create_task(self._send(batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _send(self, batch: _Open[T, R]) -> None:
        try:
            results = await self._flush(batch.items)
        except BaseException as exc:
            for future in batch.futures:
                if not future.done():
                    future.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        for future, result in zip(batch.futures, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def close(self, result: R | None = None) -> None:
        """Stop waiting: cancel an open timer and any batch request under way. Members of the open batch
        get `result` (for example "hand the message back"), or are cancelled when it is None."""
        if self._open.timer is not None:
            self._open.timer.cancel()
        for future in self._open.futures:
            if not future.done():
                if result is None:
                    future.cancel()
                else:
                    future.set_result(result)
        self._open = _Open()
        for task in list(self._running):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
