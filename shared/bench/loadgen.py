"""Load generator process: POSTs JSON events, closed-loop (as fast as possible) or at a fixed rate.

Each body carries its send time (`t`, wall clock) so the sink can measure ingress-to-destination
latency; the response time of each POST is the ingress latency.

    python -m shared.bench.loadgen URL --events N --connections C [--rate R] --out FILE
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import aiohttp
import msgspec

from shared.bench.stats import result

PAD = "x" * 120


def body(i: int) -> bytes:
    return msgspec.json.encode({"order_id": f"B-{i}", "total": 50 + i % 200, "t": time.time(), "pad": PAD})


async def _post(http: aiohttp.ClientSession, url: str, i: int, latencies: list[float]) -> bool:
    """One request; its latency is recorded either way. True when ingress answered 202."""
    started = time.perf_counter()
    try:
        async with http.post(url, data=body(i), headers={"Content-Type": "application/json"}) as resp:
            await resp.read()
            ok = resp.status == 202
    except aiohttp.ClientError:
        ok = False
    latencies.append(time.perf_counter() - started)
    return ok


async def closed_loop(url: str, events: int, connections: int) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(events))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as http:
        async def worker() -> None:
            nonlocal errors
            for i in counter:
                errors += not await _post(http, url, i, latencies)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return time.perf_counter() - started, latencies, errors


async def fixed_rate(url: str, events: int, rate: float, connections: int) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as http:
        tasks = []
        started = time.perf_counter()
        for i in range(events):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_post(http, url, i, latencies)))
        results = await asyncio.gather(*tasks)
        return time.perf_counter() - started, latencies, results.count(False)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rate", type=float)
    parser.add_argument("--name", default="load")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.rate:
        elapsed, latencies, errors = await fixed_rate(args.url, args.events, args.rate, args.connections)
    else:
        elapsed, latencies, errors = await closed_loop(args.url, args.events, args.connections)
    report = msgspec.json.encode(result(args.name, args.events, elapsed, latencies, errors=errors))
    await asyncio.to_thread(Path(args.out).write_bytes, report)


if __name__ == "__main__":
    try:
        import uvloop
        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
