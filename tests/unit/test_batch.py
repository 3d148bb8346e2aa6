"""services/delivery/batch.py: flush at max_events or after interval, whichever first; one result each."""

from __future__ import annotations

import asyncio
import time

import msgspec
import pytest

from services.delivery.batch import Batcher, batch_body, batch_id


async def test_flushes_when_full_without_waiting_for_the_interval() -> None:
    flushed: list[list[int]] = []

    async def flush(items: list[int]) -> list[str]:
        flushed.append(items)
        return [f"ok{i}" for i in items]

    batcher: Batcher[int, str] = Batcher(3, 60.0, flush)
    started = time.monotonic()
    results = await asyncio.wait_for(asyncio.gather(*(batcher.add(i) for i in range(3))), 1)
    assert results == ["ok0", "ok1", "ok2"]
    assert flushed == [[0, 1, 2]]
    assert time.monotonic() - started < 1


async def test_flushes_a_partial_batch_after_the_interval() -> None:
    flushed: list[list[int]] = []

    async def flush(items: list[int]) -> list[int]:
        flushed.append(items)
        return items

    batcher: Batcher[int, int] = Batcher(100, 0.1, flush)
    started = time.monotonic()
    assert await asyncio.wait_for(asyncio.gather(batcher.add(1), batcher.add(2)), 2) == [1, 2]
    assert flushed == [[1, 2]]
    assert time.monotonic() - started >= 0.09


async def test_a_failed_flush_fails_every_member() -> None:
    async def flush(items: list[int]) -> list[int]:
        raise RuntimeError("down")

    batcher: Batcher[int, int] = Batcher(2, 60.0, flush)
    results = await asyncio.gather(batcher.add(1), batcher.add(2), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)


async def test_close_cancels_waiting_members() -> None:
    async def flush(items: list[int]) -> list[int]:
        return items

    batcher: Batcher[int, int] = Batcher(10, 60.0, flush)
    waiting = asyncio.create_task(batcher.add(1))
    await asyncio.sleep(0)
    assert batcher.pending == 1
    await batcher.close()
    with pytest.raises(asyncio.CancelledError):
        await waiting


def test_body_is_a_json_array_of_the_events_byte_for_byte() -> None:
    events = [b'{"id":"a","x":1}', b'{"id":"b"}']
    assert msgspec.json.decode(batch_body(events)) == [{"id": "a", "x": 1}, {"id": "b"}]
    assert batch_id(["a", "b"]) == batch_id(["b", "a"]) != batch_id(["a"])
