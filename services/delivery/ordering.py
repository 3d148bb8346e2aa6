"""Per-key sequencing for `ordered: true` destinations: one event per partition key at a time, in order.

The ordered consumer hands messages over in stream order. Each message takes a turn on its key: the
turn is granted in arrival order, and only after the previous event of that key was delivered or
dead-lettered. Keys are independent, so a failing key waits alone while the others proceed (until the
ordering window — the consumer's max_in_flight — is full of that key's events).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator


class KeySequencer:
    def __init__(self) -> None:
        self._queues: dict[str, deque[asyncio.Future[None]]] = {}

    def waiting(self, key: str) -> int:
        """How many events of `key` are held, including the one being delivered."""
        return len(self._queues.get(key, ()))

    @property
    def keys(self) -> int:
        return len(self._queues)

    @contextlib.asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        queue = self._queues.setdefault(key, deque())
        ticket: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(ticket)
        if queue[0] is ticket:
            ticket.set_result(None)
        try:
            await ticket
            yield
        finally:
            self._release(key, ticket)

    def _release(self, key: str, ticket: asyncio.Future[None]) -> None:
        queue = self._queues.get(key)
        if queue is None:
            return
        was_head = bool(queue) and queue[0] is ticket
        with contextlib.suppress(ValueError):
            queue.remove(ticket)
        if not ticket.done():
            ticket.cancel()
        if not queue:
            del self._queues[key]
        elif was_head and not queue[0].done():
            queue[0].set_result(None)
