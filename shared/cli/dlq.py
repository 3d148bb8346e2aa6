"""`hookmesh dlq list|show|replay|discard`: remediate dead letters through the deadletter API."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any
from urllib.parse import urlencode

import msgspec

from shared.cli.httpclient import call, problem_text
from shared.settings import Settings

FILTERS = ("stage", "reason", "source", "destination", "type", "status")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="deadletter base URL (default: $HOOKMESH_DEADLETTER_URL or "
                        "http://127.0.0.1:8081)")
    sub = parser.add_subparsers(dest="dlq_command", required=True)
    listing = sub.add_parser("list", help="list dead letters, newest first")
    for name in FILTERS:
        listing.add_argument(f"--{name}")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--all", action="store_true", help="follow every page")
    listing.add_argument("-o", "--output", choices=("table", "json"), default="table")
    show = sub.add_parser("show", help="one dead letter with its event, error and attempt history")
    show.add_argument("id")
    replay = sub.add_parser("replay", help="replay one dead letter, or every pending one matching filters")
    replay.add_argument("id", nargs="?")
    for name in FILTERS[:-1]:
        replay.add_argument(f"--{name}")
    replay.add_argument("--rate", type=float, default=100, help="bulk replays per second (default 100)")
    discard = sub.add_parser("discard", help="drop a dead letter for good")
    discard.add_argument("id")


def _base(args: argparse.Namespace) -> str:
    url = args.url or os.environ.get("HOOKMESH_DEADLETTER_URL") or Settings.from_env().url("deadletter")
    return url.rstrip("/") + "/v1/dead-letters"


def _fail(status: int, data: Any) -> int:
    print(problem_text(status, data), file=sys.stderr)
    return 1


async def main(args: argparse.Namespace) -> int:
    base = _base(args)
    command = args.dlq_command
    if command == "list":
        return await _list(args, base)
    if command == "show":
        status, data = await call("GET", f"{base}/{args.id}")
        if status != 200:
            return _fail(status, data)
        print(msgspec.json.format(msgspec.json.encode(data), indent=2).decode())
        return 0
    if command == "replay":
        return await _replay(args, base)
    status, data = await call("DELETE", f"{base}/{args.id}")
    if status != 200:
        return _fail(status, data)
    print(f"discarded {args.id}")
    return 0


async def _list(args: argparse.Namespace, base: str) -> int:
    query = {k: getattr(args, k) for k in FILTERS if getattr(args, k)}
    query["limit"] = str(args.limit)
    items: list[dict[str, Any]] = []
    while True:
        status, data = await call("GET", f"{base}?{urlencode(query)}")
        if status != 200:
            return _fail(status, data)
        items.extend(data["items"])
        if not (args.all and data["next"]):
            break
        query["cursor"] = data["next"]
        print(f"\r{len(items)} dead letters read...", end="", file=sys.stderr)
    if args.all:
        print(file=sys.stderr)
    if args.output == "json":
        print(msgspec.json.format(msgspec.json.encode(items), indent=2).decode())
        return 0
    if not items:
        print("no dead letters match", file=sys.stderr)
        return 0
    print(f"{'ID':<36}  {'STATUS':<9}  {'STAGE':<10}  {'REASON':<22}  {'WHERE':<18}  LAST FAILURE")
    for item in items:
        where = item.get("destination") or item.get("source") or ""
        print(f"{item['id']:<36}  {item['status']:<9}  {item['stage']:<10}  {item['reason']:<22}  {where:<18}  "
              f"{item['last_failure']}")
        print(f"{'':<38}{item['error'][:110]}")
    return 0


async def _replay(args: argparse.Namespace, base: str) -> int:
    if args.id:
        status, data = await call("POST", f"{base}/{args.id}/replay")
        if status not in (200, 202):
            return _fail(status, data)
        if data.get("already_replayed"):
            print(f"{args.id} was already replayed at {data['replayed_at']}; nothing sent again")
        else:
            print(f"replayed {args.id} (event {data['event_id']}) into {data['replay_subject']}")
        return 0
    filters = {k: getattr(args, k) for k in FILTERS[:-1] if getattr(args, k)}
    if not filters:
        raise SystemExit("name a dead letter id, or filters (for example --reason schema_invalid) for a bulk replay")
    filters["rate"] = args.rate
    print(f"replaying pending dead letters matching {filters} ...", file=sys.stderr)
    status, data = await call("POST", f"{base}/replay", body=msgspec.json.encode(filters), timeout=3600)
    if status != 202:
        return _fail(status, data)
    print(f"matched {data['matched']}, replayed {data['replayed']}, failed {data['failed']}")
    return 0 if not data["failed"] else 1
