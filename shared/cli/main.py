"""`hookmesh`: the command line entry point."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from shared.cli import (
    asyncapi,
    bench,
    configcmds,
    destinations,
    dlq,
    events,
    history,
    natsauth,
    routes,
    run,
    schemas,
    send,
    up,
)
from shared.cli.runner import run as run_async
from shared.errors import ConfigError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hookmesh", description="An event mesh for no-code workflow builders.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up.add_arguments(sub.add_parser("up", help="run everything on this machine (embedded NATS unless NATS_URL)"))
    run.add_arguments(sub.add_parser("run", help="run one service"))
    configcmds.add_apply_arguments(sub.add_parser("apply", help="store a configuration file in NATS KV"))
    configcmds.add_get_arguments(sub.add_parser("get", help="list sources, schemas, destinations, routes, "
                                                "consumers"))
    send.add_arguments(sub.add_parser("send", help="post an event to a source through ingress"))
    dlq.add_arguments(sub.add_parser("dlq", help="list, show, replay or discard dead letters"))
    natsauth.add_arguments(sub.add_parser("nats-auth", help="nats-server authorization for the consumer services"))
    bench.add_arguments(sub.add_parser("bench", help="measure hookmesh against the raw JetStream limit"))
    asyncapi.add_arguments(sub.add_parser("asyncapi", help="the AsyncAPI 3.0 document of every subject"))
    schemas.add_arguments(sub.add_parser("schemas", help="check schema versions before applying them"))
    routes.add_arguments(sub.add_parser("routes", help="explain why a route matches an event, or dry-run it"))
    destinations.add_arguments(sub.add_parser("destinations", help="pause or resume delivery to a destination"))
    history.add_arguments(sub.add_parser("history", help="who changed a configuration item, when, and how"))
    events.add_arguments(sub.add_parser("events", help="an event's timeline across stages and attempts"))
    return parser


COMMANDS = {
    "up": up.main,
    "run": run.main,
    "apply": configcmds.apply,
    "get": configcmds.get,
    "send": send.main,
    "dlq": dlq.main,
    "nats-auth": natsauth.main,
    "bench": bench.main,
    "asyncapi": asyncapi.main,
    "schemas": schemas.main,
    "routes": routes.main,
    "destinations": destinations.main,
    "history": history.main,
    "events": events.main,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run_async(COMMANDS[args.command](args))
    except ConfigError as exc:
        print(f"hookmesh: configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
