"""`hookmesh asyncapi`: the AsyncAPI 3.0 document of every subject, from the live registry or a file."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import yaml

from shared.asyncapi import build
from shared.cli.configcmds import _connect
from shared.config import load_config
from shared.configstore import read_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--file", help="read the configuration from this file instead of NATS KV")
    parser.add_argument("-o", "--output", help="write the document here (default: standard output)")
    parser.add_argument("--nats-host", default="127.0.0.1:4222", help="server host:port written into the document")


async def main(args: argparse.Namespace) -> int:
    if args.file:
        config = load_config(args.file)
    else:
        nc = await _connect()
        try:
            config = await read_config(nc.jetstream())
        finally:
            await nc.close()
    text = yaml.safe_dump(build(config, nats_host=args.nats_host), sort_keys=False, allow_unicode=True)
    if args.output:
        await asyncio.to_thread(Path(args.output).write_text, text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(text, end="")
    return 0
