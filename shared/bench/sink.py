"""Sink process for the benchmark: counts deliveries and measures ingress-to-destination latency.

    python -m shared.bench.sink PORT      (POST /hooks, GET /stats, POST /reset)
"""

from __future__ import annotations

import sys
import time

import msgspec
from aiohttp import web

from shared.bench.stats import percentile


class _Data(msgspec.Struct):
    t: float = 0.0


class _Event(msgspec.Struct):
    data: _Data = msgspec.field(default_factory=_Data)


_decoder = msgspec.json.Decoder(_Event)


def build_app() -> web.Application:
    state: dict[str, list[float]] = {"latencies": []}
    ids: set[str] = set()
    duplicates = [0]

    async def hooks(request: web.Request) -> web.Response:
        body = await request.read()
        now = time.time()
        webhook_id = request.headers.get("webhook-id", "")
        if webhook_id in ids:
            duplicates[0] += 1
        ids.add(webhook_id)
        event = _decoder.decode(body)
        if event.data.t:
            state["latencies"].append(now - event.data.t)
        return web.Response(status=204)

    async def stats(request: web.Request) -> web.Response:
        values = sorted(state["latencies"])
        return web.json_response({"count": len(values), "unique": len(ids), "duplicates": duplicates[0],
                                  "p50_ms": (percentile(values, 0.5) or 0) * 1000,
                                  "p99_ms": (percentile(values, 0.99) or 0) * 1000,
                                  "latencies": values if request.query.get("all") else []})

    async def reset(request: web.Request) -> web.Response:
        state["latencies"] = []
        ids.clear()
        duplicates[0] = 0
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hooks", hooks)
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)
    return app


if __name__ == "__main__":
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    web.run_app(build_app(), host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
