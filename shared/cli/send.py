"""`hookmesh send <source> <json>`: post an event to ingress as a no-code tool would."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

import msgspec

from shared.cli.httpclient import call, problem_text
from shared.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="the source name (POST /v1/hooks/SOURCE)")
    parser.add_argument("json", help="the body: JSON text, @FILE, or - for standard input")
    parser.add_argument("-H", "--header", action="append", default=[], help="extra header, NAME: VALUE")
    parser.add_argument("--token", help="bearer token (for sources with auth type bearer)")
    parser.add_argument("--url", help="ingress base URL (default: $HOOKMESH_INGRESS_URL or http://127.0.0.1:8080)")


async def main(args: argparse.Namespace) -> int:
    if args.json == "-":
        body = sys.stdin.buffer.read()
    elif args.json.startswith("@"):
        body = await asyncio.to_thread(Path(args.json[1:]).read_bytes)
    else:
        body = args.json.encode()
    try:
        msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise SystemExit(f"the body is not valid JSON: {exc}") from None
    headers = {"Content-Type": "application/json"}
    for header in args.header:
        name, sep, value = header.partition(":")
        if not sep:
            raise SystemExit(f"write headers as NAME: VALUE, got {header!r}")
        headers[name.strip()] = value.strip()
    if args.token:
        headers["Authorization"] = f"Bearer {args.token}"
    base = args.url or os.environ.get("HOOKMESH_INGRESS_URL") or Settings.from_env().url("ingress")
    status, data = await call("POST", f"{base.rstrip('/')}/v1/hooks/{args.source}", body=body, headers=headers)
    if status == 202:
        print(msgspec.json.encode(data).decode())
        return 0
    print(problem_text(status, data), file=sys.stderr)
    return 1
