"""`hookmesh dlq list|show|replay|discard`: remediate dead letters through the deadletter API.

Bulk replay is done by the service (`POST /v1/dead-letters/replay`, rate-limited there, progress
streamed back as NDJSON and drawn here as a bar); bulk discard is driven from here, one DELETE per
dead letter, since discarding is the one step an operator should be able to watch and stop.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import msgspec

from shared.cli.httpclient import ApiError, call, problem_text
from shared.cli.progress import Progress
from shared.settings import Settings

FILTERS = ("stage", "reason", "source", "destination", "type", "event_id", "since", "until")


def _add_filters(parser: argparse.ArgumentParser, *, status: bool) -> None:
    for name in FILTERS[:6]:
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name)
    parser.add_argument("--since", help="failed at or after: RFC 3339 time, or a duration ago (24h, 7d)")
    parser.add_argument("--until", help="failed before: RFC 3339 time, or a duration ago")
    if status:
        parser.add_argument("--status", choices=("pending", "replayed", "discarded"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="deadletter base URL (default: $HOOKMESH_DEADLETTER_URL or "
                        "http://127.0.0.1:8081)")
    sub = parser.add_subparsers(dest="dlq_command", required=True)
    listing = sub.add_parser("list", help="list dead letters, newest first")
    _add_filters(listing, status=True)
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--all", action="store_true", help="follow every page")
    listing.add_argument("-o", "--output", choices=("table", "json"), default="table")
    show = sub.add_parser("show", help="one dead letter with its event, error and attempt history")
    show.add_argument("id")
    replay = sub.add_parser("replay", help="replay one dead letter, or every pending one matching filters")
    replay.add_argument("id", nargs="?")
    _add_filters(replay, status=False)
    replay.add_argument("--to", metavar="DESTINATION", help="send a delivery-stage dead letter to this destination")
    edit = replay.add_mutually_exclusive_group()
    edit.add_argument("--data", help="edit and replay: the corrected data (JSON); the new event gets a new id "
                      "and replayof = the old id")
    edit.add_argument("--data-file", type=Path, help="edit and replay with the data read from this JSON file")
    replay.add_argument("--rate", type=float, default=100, help="bulk replays per second (default 100)")
    replay.add_argument("--limit", type=int, default=10_000, help="bulk: replay at most this many (oldest first)")
    discard = sub.add_parser("discard", help="drop a dead letter for good, or every one matching filters")
    discard.add_argument("id", nargs="?")
    _add_filters(discard, status=True)
    discard.add_argument("--yes", action="store_true", help="bulk: confirm discarding every match")


def _base(args: argparse.Namespace) -> str:
    url = args.url or os.environ.get("HOOKMESH_DEADLETTER_URL") or Settings.from_env().url("deadletter")
    return url.rstrip("/") + "/v1/dead-letters"


def _fail(status: int, data: Any) -> int:
    print(problem_text(status, data), file=sys.stderr)
    return 1


def _filters(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, str]:
    return {k: getattr(args, k) for k in names if getattr(args, k, None)}


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
    return await _discard(args, base)


async def _read_all(base: str, query: dict[str, str], *, everything: bool) -> tuple[int, Any]:
    items: list[dict[str, Any]] = []
    while True:
        status, data = await call("GET", f"{base}?{urlencode(query)}")
        if status != 200:
            return status, data
        items.extend(data["items"])
        if not (everything and data["next"]):
            return 200, items
        query = {**query, "cursor": data["next"]}


async def _list(args: argparse.Namespace, base: str) -> int:
    query = _filters(args, (*FILTERS, "status"))
    query["limit"] = str(args.limit)
    status, items = await _read_all(base, query, everything=args.all)
    if status != 200:
        return _fail(status, items)
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


def _replay_body(args: argparse.Namespace) -> bytes | None:
    body: dict[str, Any] = {}
    if args.to:
        body["destination"] = args.to
    raw = args.data
    if args.data_file is not None:
        try:
            raw = args.data_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise SystemExit(f"cannot read {args.data_file}: {exc.strerror}") from None
    if raw is not None:
        try:
            body["data"] = msgspec.json.decode(raw)
        except msgspec.DecodeError as exc:
            raise SystemExit(f"--data is not valid JSON: {exc}") from None
    return msgspec.json.encode(body) if body else None


async def _replay(args: argparse.Namespace, base: str) -> int:
    if args.id:
        status, data = await call("POST", f"{base}/{args.id}/replay", body=_replay_body(args),
                                  headers={"Content-Type": "application/json"})
        if status not in (200, 202):
            return _fail(status, data)
        if data.get("already_replayed"):
            print(f"{args.id} was already replayed at {data['replayed_at']}; nothing sent again")
        elif data.get("edited"):
            print(f"replayed {args.id} as new event {data['event_id']} (replayof {data['original_event_id']}) into "
                  f"{data['replay_subject']}")
        else:
            print(f"replayed {args.id} (event {data['event_id']}) into {data['replay_subject']}")
        return 0
    if args.to or args.data is not None or args.data_file is not None:
        raise SystemExit("--to and --data apply to one dead letter: name its id")
    filters: dict[str, Any] = _filters(args, FILTERS)
    if not filters:
        raise SystemExit("name a dead letter id, or filters (for example --reason schema_invalid) for a bulk replay")
    body = {**filters, "rate": args.rate, "limit": args.limit}
    print(f"replaying pending dead letters matching {filters} at up to {args.rate:g}/s ...", file=sys.stderr)
    summary = await _stream_bulk_replay(f"{base}/replay", msgspec.json.encode(body))
    if summary is None:
        return 1
    print(f"matched {summary['matched']}, replayed {summary['replayed']}, already replayed "
          f"{summary['already_replayed']}, failed {summary['failed']}")
    if summary.get("error"):
        print(summary["error"], file=sys.stderr)
    return 0 if not summary["failed"] else 1


async def _stream_bulk_replay(url: str, body: bytes) -> dict[str, Any] | None:
    """POST the bulk replay asking for NDJSON, draw a bar from its progress lines, return the summary."""
    headers = {"Accept": "application/x-ndjson", "Content-Type": "application/json"}
    token = os.environ.get("HOOKMESH_ADMIN_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    progress: Progress | None = None
    timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
    try:
        async with (aiohttp.ClientSession(timeout=timeout) as session,
                    session.post(url, data=body, headers=headers) as resp):
            if resp.status != 200:
                raw = await resp.read()
                try:
                    data: Any = msgspec.json.decode(raw)
                except msgspec.DecodeError:
                    data = raw.decode(errors="replace")
                _fail(resp.status, data)
                return None
            async for raw_line in resp.content:
                if not raw_line.strip():
                    continue
                line = msgspec.json.decode(raw_line)
                if "summary" in line:
                    if progress is not None:
                        progress.finish()
                    elif not line["summary"]["matched"]:
                        print("no pending dead letters match", file=sys.stderr)
                    return dict(line["summary"])
                if progress is None:
                    progress = Progress(line["total"])
                progress.step(line["result"])
                if line["result"] == "failed":
                    print(f"\n{line['id']}: {line.get('error', '')}", file=sys.stderr)
    except aiohttp.ClientConnectorError as exc:
        raise ApiError(f"cannot reach {url} ({exc.os_error or exc}); is `hookmesh up` running?") from None
    print("the deadletter service ended the answer before its summary; run the same command again to finish "
          "(replays are idempotent)", file=sys.stderr)
    return None


async def _discard(args: argparse.Namespace, base: str) -> int:
    if args.id:
        status, data = await call("DELETE", f"{base}/{args.id}")
        if status != 200:
            return _fail(status, data)
        print(f"discarded {args.id}")
        return 0
    filters = _filters(args, (*FILTERS, "status"))
    if not filters:
        raise SystemExit("name a dead letter id, or filters (for example --reason unroutable --yes) to discard "
                         "every match")
    status, items = await _read_all(base, {**filters, "limit": "500"}, everything=True)
    if status != 200:
        return _fail(status, items)
    if not items:
        print("no dead letters match", file=sys.stderr)
        return 0
    if not args.yes:
        print(f"{len(items)} dead letters match {filters}; add --yes to discard them", file=sys.stderr)
        return 1
    progress = Progress(len(items))
    failed = 0
    for item in items:
        status, data = await call("DELETE", f"{base}/{item['id']}")
        ok = status == 200 or status == 404  # 404: discarded meanwhile (or expired): gone either way
        failed += not ok
        progress.step("discarded" if ok else "failed")
        if not ok:
            print(f"\n{item['id']}: {problem_text(status, data)}", file=sys.stderr)
    progress.finish()
    print(f"discarded {len(items) - failed} of {len(items)}")
    return 0 if not failed else 1
