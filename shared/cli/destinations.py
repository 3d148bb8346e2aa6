"""`hookmesh destinations pause|resume NAME`: hold a destination's events in the stream, or let them go.

The state lives in the `hookmesh_destination_state` KV bucket that every delivery replica watches;
resume also clears a 410 Gone disable.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from shared.cli.configcmds import _connect
from shared.configstore import read_config
from shared.envelope import now_rfc3339


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="destinations_command", required=True)
    pause = sub.add_parser("pause", help="stop delivering to NAME; its events wait in the stream")
    pause.add_argument("name")
    pause.add_argument("--reason", default="", help="why, for whoever looks next")
    resume = sub.add_parser("resume", help="deliver to NAME again (also after a 410 Gone disabled it)")
    resume.add_argument("name")


async def main(args: argparse.Namespace) -> int:
    from services.delivery import pause as state  # the record format is delivery's

    nc = await _connect()
    try:
        js = nc.jetstream()
        config = await read_config(js)
        if args.name not in {d.name for d in config.destinations}:
            print(f"hookmesh: no destination named {args.name!r}; see `hookmesh get destinations`", file=sys.stderr)
            return 1
        kv = await state.bucket(js)
        if args.destinations_command == "pause":
            record = state.StateRecord(at=now_rfc3339(), by=state.who(), reason=args.reason)
            await state.set_flag(kv, args.name, "paused", record)
            print(f"paused {args.name}: its events wait in the stream until `hookmesh destinations resume "
                  f"{args.name}`")
            return 0
        cleared = [flag for flag in ("paused", "disabled") if await state.clear_flag(kv, args.name, flag)]
        print(f"resumed {args.name}" + (f" (was {' and '.join(cleared)})" if cleared else " (it was not paused)"))
        return 0
    finally:
        await nc.close()


async def states(js: Any) -> dict[str, dict[str, Any]]:
    """{destination: {flag: record}} for `hookmesh get destinations` (empty when the bucket is missing)."""
    import nats.js.errors

    from services.delivery import pause as state

    try:
        return await state.read_all(await state.bucket(js))
    except nats.js.errors.BucketNotFoundError:
        return {}


def describe(flags: dict[str, Any]) -> str:
    """A short state column: active, paused, disabled (410), breaker open/half_open."""
    parts = []
    if "paused" in flags:
        parts.append("paused" + (f" ({flags['paused'].reason})" if flags["paused"].reason else ""))
    if "disabled" in flags:
        parts.append("disabled (410 Gone)")
    breaker = flags.get("breaker")
    if breaker is not None and breaker.state and breaker.state != "closed":
        parts.append(f"breaker {breaker.state}")
    return ", ".join(parts) or "active"
