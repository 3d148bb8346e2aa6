"""`hookmesh history <kind> <name>`: every stored revision of a configuration item — who, when, what.

Read straight from the KV bucket's stream (history 64 per key), so the `Hookmesh-Applied-By` header
that `hookmesh apply` writes is visible; each revision is shown as a diff against the one before.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import msgspec
import nats.js.errors
import yaml

from shared import subjects
from shared.config import KINDS, decode_item, to_builtins
from shared.configstore import APPLIED_BY, key_for

KV_STREAM = subjects.kv_stream(subjects.CONFIG_BUCKET)


@dataclass
class Revision:
    revision: int
    at: str
    by: str
    operation: str  # put | delete | purge
    text: str       # the item as YAML ("" when deleted)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=sorted(KINDS))
    parser.add_argument("name", help="the item's name (schemas: TYPE.vN, for example com.acme.order.created.v1)")
    parser.add_argument("-o", "--output", choices=("diff", "json"), default="diff")


async def revisions(js: Any, kind: str, name: str, limit: int = 1000) -> list[Revision]:
    subject = f"$KV.{subjects.CONFIG_BUCKET}.{key_for(kind, name)}"
    out: list[Revision] = []
    seq = 1
    while len(out) < limit:
        try:
            msg = await js.get_msg(KV_STREAM, seq, subject=subject, next=True)
        except nats.js.errors.NotFoundError:
            break
        headers = msg.headers or {}
        operation = {"DEL": "delete", "PURGE": "purge"}.get(headers.get("KV-Operation", ""), "put")
        text = ""
        if operation == "put" and msg.data:
            try:
                text = yaml.safe_dump(to_builtins(decode_item(kind, msg.data)), sort_keys=False)
            except (msgspec.DecodeError, msgspec.ValidationError):
                text = msg.data.decode(errors="replace") + "\n"
        at = msg.time.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if msg.time else ""
        out.append(Revision(msg.seq, at, headers.get(APPLIED_BY, "(unknown: not written by hookmesh apply)"),
                            operation, text))
        seq = msg.seq + 1
    return out


async def main(args: argparse.Namespace) -> int:
    from shared.cli.configcmds import _connect

    nc = await _connect()
    try:
        found = await revisions(nc.jetstream(), args.kind, args.name)
    finally:
        await nc.close()
    if not found:
        print(f"no history for {args.kind} {args.name!r}", file=sys.stderr)
        return 1
    if args.output == "json":
        print(msgspec.json.format(msgspec.json.encode([r.__dict__ for r in found]), indent=2).decode())
        return 0
    previous = ""
    for rev in found:
        print(f"revision {rev.revision}  {rev.at}  by {rev.by}  ({rev.operation})")
        diff = difflib.unified_diff(previous.splitlines(), rev.text.splitlines(), "before", "after", lineterm="", n=2)
        body = list(diff)[2:]
        print("\n".join("  " + line for line in body) if body else "  (no change in content)")
        previous = rev.text
    return 0
