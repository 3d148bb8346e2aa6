"""(b) The bare baseline: an aiohttp handler that publishes the body to JetStream and answers after the ack.

    python -m shared.bench.baseline PORT NATS_URL
"""

from __future__ import annotations

import sys
import uuid

import nats
from aiohttp import web
from nats.js.api import StorageType, StreamConfig


async def build_app(nats_url: str) -> web.Application:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="BENCH_BASELINE", subjects=["bench.baseline.>"], storage=StorageType.FILE))

    async def ingest(request: web.Request) -> web.Response:
        body = await request.read()
        event_id = str(uuid.uuid4())
        await js.publish("bench.baseline.in", body, headers={"Nats-Msg-Id": event_id})
        return web.json_response({"id": event_id}, status=202)

    app = web.Application()
    app.router.add_post("/ingest", ingest)
    return app


if __name__ == "__main__":
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    web.run_app(build_app(sys.argv[2]), host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
