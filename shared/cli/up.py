"""`hookmesh up`: embedded NATS (unless NATS_URL), the config applied, all five services, the demo sink."""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import logging
import os
import secrets
import sys
from importlib import resources
from pathlib import Path

from aiohttp import web

from shared import nats_runtime, tracing
from shared.cli.runner import load_service, stop_on_signals
from shared.config import load_config
from shared.configstore import apply_config
from shared.embedded_nats import EmbeddedNats
from shared.logs import setup_logging
from shared.servicehost import ServiceHost
from shared.settings import SERVICES, Settings, redact_url
from shared.streams import ensure_streams

log = logging.getLogger("hookmesh.up")
DEMO_SINK_PORT = 8089


def demo_config_path() -> Path:
    return Path(str(resources.files("shared") / "demo" / "hookmesh.yaml"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", help="configuration file to apply (default: the demo configuration)")
    parser.add_argument("--data-dir", default=".hookmesh", help="where the embedded NATS keeps its store "
                        "(default: ./.hookmesh)")
    parser.add_argument("--nats-port", type=int, default=4222, help="port of the embedded NATS (default 4222)")
    parser.add_argument("--sync-interval", default="1s",
                        help="how often the embedded NATS fsyncs: 'always' (strictest, slower) or a duration "
                        "(default 1s; see docs/operations.md, Durability)")
    parser.add_argument("--no-demo-sink", action="store_true", help="do not run the demo sink")
    parser.add_argument("--demo-sink-port", type=int, default=DEMO_SINK_PORT,
                        help=f"port of the demo sink (default {DEMO_SINK_PORT})")


async def provision_and_apply(settings: Settings, config_path: Path, *, demo_sink_port: int | None = None) -> None:
    config = load_config(config_path)
    if demo_sink_port is not None:
        for destination in config.destinations:
            if destination.name == "demo-sink":
                destination.url = f"http://127.0.0.1:{demo_sink_port}/hooks"
    nc = await nats_runtime.connect(settings.nats_url, "up")
    try:
        js = nc.jetstream()
        await ensure_streams(js, replicas=settings.replicas)
        plan = await apply_config(js, config)
        print(f"applied {config_path}: {len(plan.create)} created, {len(plan.update)} updated, "
              f"{len(plan.unchanged)} unchanged", file=sys.stderr)
    finally:
        await nc.close()


async def start_demo_sink(host: str, port: int) -> web.AppRunner:
    from services.demosink.app import build_app

    runner = web.AppRunner(build_app(os.environ.get("HOOKMESH_DEMO_SECRET")), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise SystemExit(f"demo sink: cannot listen on {host}:{port} ({exc.strerror}); pass --no-demo-sink "
                         "or free the port") from None
    return runner


async def main(args: argparse.Namespace) -> int:
    setup_logging()
    settings = Settings.from_env()
    stop = stop_on_signals()
    server: EmbeddedNats | None = None
    if not os.environ.get("NATS_URL"):
        server = EmbeddedNats(Path(args.data_dir) / "jetstream", port=args.nats_port, sync_interval=args.sync_interval)
        await server.astart()
        settings = dataclasses.replace(settings, nats_url=server.url)
        print(f"embedded NATS with JetStream at {server.url}, store in {server.store_dir}, "
              f"sync_interval {args.sync_interval}", file=sys.stderr)
    config_path = Path(args.config) if args.config else demo_config_path()
    demo = not args.config and not args.no_demo_sink
    if demo and not os.environ.get("HOOKMESH_DEMO_SECRET"):
        os.environ["HOOKMESH_DEMO_SECRET"] = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    hosts: list[ServiceHost] = []
    sink = None
    try:
        await provision_and_apply(settings, config_path, demo_sink_port=args.demo_sink_port if demo else None)
        if demo:
            sink = await start_demo_sink("127.0.0.1", args.demo_sink_port)
        hosts = [ServiceHost(load_service(name), settings, admin_api=name == "deadletter") for name in SERVICES]
        starting = asyncio.gather(*(h.start() for h in hosts))
        waiter = asyncio.ensure_future(stop.wait())
        await asyncio.wait({starting, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
        else:
            starting.result()
            print_banner(settings, args.demo_sink_port if demo else None)
            await stop.wait()
    finally:
        await asyncio.gather(*(h.stop() for h in hosts), return_exceptions=True)
        if sink is not None:
            await sink.cleanup()
        tracing.shutdown()
        if server is not None:
            await asyncio.to_thread(server.stop)
        print("hookmesh stopped", file=sys.stderr)
    return 0


def print_banner(settings: Settings, demo_sink_port: int | None) -> None:
    lines = [
        "",
        "hookmesh is up",
        f"  ingress      {settings.url('ingress')}/v1/hooks/{{source}}",
        f"  dead letters {settings.url('deadletter')}/v1/dead-letters",
        f"  NATS         {redact_url(settings.nats_url)}",
        "  health       " + ", ".join(f"{s} :{settings.ports[s]}" for s in SERVICES) + "  (/healthz /readyz /metrics)",
    ]
    if demo_sink_port is not None:
        lines += [
            f"  demo sink    http://127.0.0.1:{demo_sink_port}/hooks (prints what it receives)",
            "",
            "try:",
            f"  curl -sS -X POST {settings.url('ingress')}/v1/hooks/demo -H 'Content-Type: application/json' "
            "-d '{\"order_id\": \"A-1001\", \"total\": 42.5, \"currency\": \"EUR\"}'",
        ]
    lines.append("Ctrl-C drains and stops.")
    print("\n".join(lines), file=sys.stderr, flush=True)
