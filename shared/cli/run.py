"""`hookmesh run <service>`: one service alone, as a Kubernetes Deployment or compose service runs it."""

from __future__ import annotations

import argparse
import asyncio
import sys

from shared import tracing
from shared.cli.runner import load_service, stop_on_signals
from shared.logs import setup_logging
from shared.servicehost import ServiceHost
from shared.settings import SERVICES, Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("service", choices=SERVICES, help="the service to run")


async def main(args: argparse.Namespace) -> int:
    setup_logging()
    settings = Settings.from_env()
    stop = stop_on_signals()
    host = ServiceHost(load_service(args.service), settings, admin_api=args.service == "deadletter")
    try:
        starting = asyncio.ensure_future(host.start())
        waiter = asyncio.ensure_future(stop.wait())
        await asyncio.wait({starting, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()
            await stop.wait()
        else:
            starting.cancel()
    finally:
        await host.stop()
        tracing.shutdown()
    print(f"{args.service} stopped", file=sys.stderr)
    return 0
