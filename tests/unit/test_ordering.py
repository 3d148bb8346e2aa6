"""services/delivery/ordering.py: one event per key at a time, in arrival order; keys independent."""

from __future__ import annotations

import asyncio

from services.delivery.ordering import KeySequencer


async def test_one_key_runs_in_arrival_order_one_at_a_time() -> None:
    seq = KeySequencer()
    log: list[tuple[str, int]] = []
    gates = [asyncio.Event() for _ in range(3)]

    async def work(i: int) -> None:
        async with seq.turn("k"):
            log.append(("start", i))
            await gates[i].wait()
            log.append(("end", i))

    tasks = [asyncio.create_task(work(i)) for i in range(3)]
    await asyncio.sleep(0)
    assert seq.waiting("k") == 3
    for gate in reversed(gates):  # releasing later ones first must not let them jump the queue
        gate.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 1)
    assert log == [("start", 0), ("end", 0), ("start", 1), ("end", 1), ("start", 2), ("end", 2)]
    assert seq.keys == 0


async def test_a_stuck_key_does_not_hold_another() -> None:
    seq = KeySequencer()
    stuck = asyncio.Event()
    done: list[str] = []

    async def work(key: str, wait: asyncio.Event | None) -> None:
        async with seq.turn(key):
            if wait:
                await wait.wait()
            done.append(key)

    blocked = asyncio.create_task(work("bad", stuck))
    queued = asyncio.create_task(work("bad", None))
    await asyncio.wait_for(asyncio.gather(*(work(k, None) for k in ("a", "b", "c"))), 1)
    assert done == ["a", "b", "c"]
    stuck.set()
    await asyncio.wait_for(asyncio.gather(blocked, queued), 1)
    assert done[3:] == ["bad", "bad"]


async def test_cancelled_waiter_leaves_the_queue_and_the_head_hands_over() -> None:
    seq = KeySequencer()
    release = asyncio.Event()
    order: list[int] = []

    async def work(i: int) -> None:
        async with seq.turn("k"):
            order.append(i)
            if i == 0:
                await release.wait()

    first = asyncio.create_task(work(0))
    second = asyncio.create_task(work(1))
    third = asyncio.create_task(work(2))
    await asyncio.sleep(0)
    second.cancel()
    release.set()
    await asyncio.wait_for(asyncio.gather(first, third), 1)
    assert order == [0, 2]
    assert seq.keys == 0
