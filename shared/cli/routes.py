"""`hookmesh routes test -f route.yaml --event event.json | --last N`: why a route matches, field by field.

`--event` needs no NATS; `--last N` dry-runs the route against the last N events stored in
HOOKMESH_EVENTS (nothing is published).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import msgspec
import nats.js.errors
import yaml

from shared import subjects
from shared.config import Route, convert
from shared.envelope import CloudEvent, decode
from shared.errors import ConfigError, MalformedEnvelope
from shared.patterns import PatternError, compile_pattern

MAX_LAST = 10_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="routes_command", required=True)
    test = sub.add_parser("test", help="explain why a route matches an event or not")
    test.add_argument("-f", "--file", required=True, help="a route (YAML mapping) or a configuration file")
    test.add_argument("--route", help="which route of the file (default: every route in it)")
    which = test.add_mutually_exclusive_group(required=True)
    which.add_argument("--event", help="a CloudEvent as JSON (structured mode)")
    which.add_argument("--last", type=int, metavar="N", help=f"the last N stored events (at most {MAX_LAST})")


def load_routes(file: str, only: str | None = None) -> list[Route]:
    try:
        raw = yaml.safe_load(Path(file).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror}", file=file) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", file=file) from None
    items = raw.get("routes") if isinstance(raw, dict) and "routes" in raw else [raw]
    if not isinstance(items, list):
        raise ConfigError("routes must be a list", file=file)
    routes = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            item = {"to": ["(test)"], **item}
            item.setdefault("name", f"route-{i}")
        try:
            route = convert(item, Route)
        except msgspec.ValidationError as exc:
            raise ConfigError(str(exc), file=file, field=f"routes[{i}]") from None
        try:
            compile_pattern(route.match)
        except PatternError as exc:
            raise ConfigError(exc.reason, file=file, field=f"{route.name}.match{exc.path}") from None
        routes.append(route)
    if only is not None:
        routes = [r for r in routes if r.name == only]
        if not routes:
            raise ConfigError(f"no route named {only!r} in the file", file=file)
    return routes


def _read(path: str) -> bytes:
    return Path(path).read_bytes()


def view_of(event: CloudEvent) -> dict[str, Any]:
    from services.routing.rules import RouteTable

    table = RouteTable()
    table.needs_data = True
    return table.view(event)


async def main(args: argparse.Namespace) -> int:
    from services.routing.explain import explain

    routes = load_routes(args.file, args.route)
    if args.event:
        try:
            event = decode(_read(args.event))
        except OSError as exc:
            raise SystemExit(f"hookmesh: cannot read {args.event}: {exc.strerror}") from None
        except MalformedEnvelope as exc:
            raise SystemExit(f"hookmesh: {args.event}: {exc}") from None
        view = view_of(event)
        any_match = False
        for route in routes:
            result = explain(route.match, view)
            any_match |= result.matched
            print(f"route {route.name} → {', '.join(route.to)}")
            print("\n".join("  " + line for line in result.render().splitlines()))
        return 0 if any_match else 1
    return await _last(routes, args.last)


async def _last(routes: list[Route], count: int) -> int:
    from services.routing.explain import explain
    from shared.cli.configcmds import _connect

    if not 1 <= count <= MAX_LAST:
        raise SystemExit(f"hookmesh: --last takes 1 to {MAX_LAST}")
    nc = await _connect()
    try:
        events = await last_events(nc.jetstream(), count)
    finally:
        await nc.close()
    if not events:
        print("no stored events in HOOKMESH_EVENTS", file=sys.stderr)
        return 1
    for route in routes:
        matched = 0
        print(f"route {route.name} → {', '.join(route.to)}")
        for seq, event in events:
            result = explain(route.match, view_of(event))
            matched += result.matched
            line = f"  {'✓' if result.matched else '✗'} #{seq} {event.id} {event.type}"
            failure = result.first_failure()
            if not result.matched and failure is not None:
                line += f"  ({failure.path}: {failure.actual} vs {failure.expected})"
            print(line)
        print(f"  matched {matched} of {len(events)} events")
    return 0


async def last_events(js: Any, count: int) -> list[tuple[int, CloudEvent]]:
    """The last `count` events of HOOKMESH_EVENTS, oldest first (unreadable messages are skipped)."""
    info = await js.stream_info(subjects.EVENTS_STREAM)
    last, first = info.state.last_seq, info.state.first_seq
    out: list[tuple[int, CloudEvent]] = []
    seq = last
    while seq >= max(first, 1) and len(out) < count and last - seq < count * 4:
        try:
            msg = await js.get_msg(subjects.EVENTS_STREAM, seq)
        except nats.js.errors.NotFoundError:  # deleted or expired
            seq -= 1
            continue
        seq -= 1
        try:
            out.append((msg.seq, decode(msg.data or b"")))
        except MalformedEnvelope:
            continue
    return list(reversed(out))
