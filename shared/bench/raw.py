"""(a) The raw JetStream limit: one producer and one credit-based pull consumer with plain nats-py."""

from __future__ import annotations

import asyncio
import contextlib
import time

import nats
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig

from shared.bench.stats import Result, result

STREAM = "BENCH_RAW"


async def run_raw(nats_url: str, events: int, size: int = 256, window: int = 512) -> Result:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    with contextlib.suppress(nats.js.errors.NotFoundError):
        await js.delete_stream(STREAM)
    await js.add_stream(StreamConfig(name=STREAM, subjects=["bench.raw"], storage=StorageType.FILE))
    await js.add_consumer(STREAM, ConsumerConfig(durable_name="c", ack_policy=AckPolicy.EXPLICIT,
                                                 max_ack_pending=20_000))
    latencies: list[float] = []
    done = asyncio.Event()
    inbox = nc.new_inbox()
    received = 0
    requested = 0

    async def on_msg(msg: nats.aio.msg.Msg) -> None:
        nonlocal received, requested
        if not msg.data:
            status = (msg.headers or {}).get("Status")
            if status in ("404", "408", "409"):
                requested = 0
            return
        sent = float(msg.data[:20])
        latencies.append(time.time() - sent)
        await msg.ack()
        received += 1
        requested -= 1
        if received >= events:
            done.set()

    await nc.subscribe(inbox, cb=on_msg)

    async def pull() -> None:
        nonlocal requested
        while not done.is_set():
            if requested < window // 2:
                await nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.{STREAM}.c",
                                 f'{{"batch": {window}, "expires": 2000000000}}'.encode(), reply=inbox)
                requested += window
            await asyncio.sleep(0.001)

    puller = asyncio.create_task(pull())
    pad = b"x" * (size - 21)
    started = time.perf_counter()
    pending: set[asyncio.Future] = set()
    for _ in range(events):
        future = await js.publish_async("bench.raw", f"{time.time():020.6f}".encode() + b"|" + pad)
        pending.add(future)
        if len(pending) >= window:
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    if pending:
        await asyncio.wait(pending)
    await asyncio.wait_for(done.wait(), timeout=120)
    elapsed = time.perf_counter() - started
    puller.cancel()
    await js.delete_stream(STREAM)
    await nc.close()
    return result("raw JetStream (1 hop, nats-py)", events, elapsed, latencies,
                  note=f"{size}-byte events, publish_async window {window}, credit-based pull")
