"""`hookmesh schemas check -f FILE`: the schema part of `apply --dry-run` (immutability and compatibility)."""

from __future__ import annotations

import argparse
import os
import sys

from shared.cli.configcmds import _connect
from shared.config import Config, load_config
from shared.configstore import apply_config
from shared.streams import ensure_streams


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="schemas_command", required=True, metavar="ACTION")
    check = sub.add_parser("check", help="check a file's schemas against the registered versions; change nothing")
    check.add_argument("-f", "--file", required=True, help="a configuration file (YAML) with schemas")


async def main(args: argparse.Namespace) -> int:
    config = load_config(args.file)
    nc = await _connect()
    try:
        js = nc.jetstream()
        await ensure_streams(js, replicas=int(os.environ.get("HOOKMESH_REPLICAS", "1")))
        plan = await apply_config(js, Config(schemas=config.schemas), dry_run=True)
    finally:
        await nc.close()
    for key in plan.create:
        print(f"new       {key.removeprefix('schemas.')}  compatible")
    for key in plan.update:
        print(f"update    {key.removeprefix('schemas.')}  same document; settings change")
    for key in plan.unchanged:
        print(f"unchanged {key.removeprefix('schemas.')}")
    print(f"{len(config.schemas)} schema version(s) checked: every one can be applied", file=sys.stderr)
    return 0
