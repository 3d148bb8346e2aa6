"""`hookmesh apply -f FILE` and `hookmesh get KIND`: the configuration in NATS KV."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import msgspec
import yaml

from shared import nats_runtime
from shared.config import KINDS, encode_item, item_name, load_config, to_builtins
from shared.configstore import apply_config, read_config
from shared.settings import DEFAULT_NATS_URL, redact_url
from shared.streams import ensure_streams


def nats_url() -> str:
    return os.environ.get("NATS_URL") or DEFAULT_NATS_URL


async def _connect() -> Any:
    url = nats_url()
    try:
        return await nats_runtime.connect(url, "cli")
    except Exception as exc:
        raise SystemExit(f"cannot reach NATS at {redact_url(url)} ({exc or type(exc).__name__}); start "
                         "`hookmesh up` or set NATS_URL") from None


def add_apply_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--file", required=True, help="the configuration file (YAML)")
    parser.add_argument("--prune", action="store_true", help="also delete stored items the file does not name")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")


async def apply(args: argparse.Namespace) -> int:
    config = load_config(args.file)
    nc = await _connect()
    try:
        js = nc.jetstream()
        await ensure_streams(js, replicas=int(os.environ.get("HOOKMESH_REPLICAS", "1")))
        plan = await apply_config(js, config, prune=args.prune, dry_run=args.dry_run)
    finally:
        await nc.close()
    verb = "would" if args.dry_run else "did"
    for label, keys in (("create", plan.create), ("update", plan.update), ("delete", plan.delete)):
        for key in keys:
            print(f"{label:<7} {key}")
    print(f"{verb} create {len(plan.create)}, update {len(plan.update)}, delete {len(plan.delete)}; "
          f"{len(plan.unchanged)} unchanged", file=sys.stderr)
    return 0


def add_get_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=sorted(KINDS), help="what to list")
    parser.add_argument("-o", "--output", choices=("table", "yaml", "json"), default="table")


def _summary(kind: str, item: Any) -> str:
    if kind == "sources":
        return f"kind={item.kind} auth={item.auth.type} type={item.event_type or 'from ' + str(item.type_from)}"
    if kind == "schemas":
        return f"compatibility={item.compatibility}"
    if kind == "destinations":
        regions = f" regions={','.join(item.allowed_regions)}" if item.allowed_regions else ""
        return f"url={item.url} max_attempts={item.retry.max_attempts}{regions}"
    if kind == "routes":
        return f"to={','.join(item.to)} match={msgspec.json.encode(item.match).decode()}"
    return f"types={','.join(item.types)}"


async def get(args: argparse.Namespace) -> int:
    nc = await _connect()
    from shared.cli.destinations import describe, states

    try:
        config = await read_config(nc.jetstream())
        flags = await states(nc.jetstream()) if args.kind == "destinations" else {}
    finally:
        await nc.close()
    items = getattr(config, args.kind)
    if args.output == "json":
        print(msgspec.json.format(b"[" + b",".join(encode_item(i) for i in items) + b"]", indent=2).decode())
    elif args.output == "yaml":
        print(yaml.safe_dump({args.kind: to_builtins(items)}, sort_keys=False), end="")
    elif not items:
        print(f"no {args.kind}; add them with `hookmesh apply -f FILE`", file=sys.stderr)
    else:
        names = [item_name(args.kind, i) for i in items]
        width = max(len(n) for n in names)
        for name, item in zip(names, items, strict=True):
            state = ""
            if args.kind == "destinations":  # paused, disabled (410) or breaker open: events wait in the stream
                state = "paused (config)" if item.paused else describe(flags.get(name, {}))
                state = f"state={state}  "
            print(f"{name:<{width}}  {state}{_summary(args.kind, item)}")
    return 0
