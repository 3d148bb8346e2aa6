"""The compose demo consumer: hookmesh's demo sink (services/demosink) served on its own, plus GET /healthz.

compose.yaml mounts this file into the hookmesh image and runs it as the `demo-consumer` service; the
destination in deploy/compose/hookmesh.yaml points at it. It verifies the Standard Webhooks signature with
HOOKMESH_DEMO_SECRET (the same secret delivery signs with) and logs every event it receives.
"""

from __future__ import annotations

import os

from aiohttp import web

from services.demosink.app import build_app
from shared.logs import setup_logging

DEFAULT_PORT = 8089
PORT_ENV = "DEMO_CONSUMER_PORT"


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "service": "demo-consumer"})


def make_app(secret: str | None) -> web.Application:
    app = build_app(secret)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    setup_logging()
    port = int(os.environ.get(PORT_ENV) or DEFAULT_PORT)
    web.run_app(make_app(os.environ.get("HOOKMESH_DEMO_SECRET") or None), host="0.0.0.0", port=port,
                access_log=None, print=None)


if __name__ == "__main__":
    main()
