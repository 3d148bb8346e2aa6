"""The configuration in NATS KV: `hookmesh apply` writes it, every service watches it.

One bucket (`hookmesh_config`, history 64), keys `{kind}.{name}` (schemas: `schemas.{type}.v{N}`).
Every change is a new revision in the bucket's history; services apply changes without restart.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from shared import subjects
from shared.config import KINDS, Config, check_config, decode_item, encode_item, item_name
from shared.kvwatch import BucketWatch
from shared.schemaregistration import registration_problems, stored_schemas

log = logging.getLogger("hookmesh.config")


def key_for(kind: str, name: str) -> str:
    return f"{kind}.{name}"


def split_key(key: str) -> tuple[str, str]:
    kind, _, name = key.partition(".")
    return kind, name


@dataclass
class Snapshot:
    """The configuration as a service sees it now."""

    items: dict[str, dict[str, Any]] = field(default_factory=lambda: {k: {} for k in KINDS})
    revision: int = 0

    def get(self, kind: str, name: str) -> Any:
        return self.items[kind].get(name)

    @property
    def sources(self) -> dict[str, Any]:
        return self.items["sources"]

    @property
    def schemas(self) -> dict[str, Any]:
        return self.items["schemas"]

    @property
    def destinations(self) -> dict[str, Any]:
        return self.items["destinations"]

    @property
    def routes(self) -> dict[str, Any]:
        return self.items["routes"]

    @property
    def consumers(self) -> dict[str, Any]:
        return self.items["consumers"]


class ConfigStore:
    """Watches the bucket and keeps a live Snapshot; listeners run after each change."""

    def __init__(self, js: JetStreamContext) -> None:
        self.js = js
        self.snapshot = Snapshot()
        self._listeners: list[Callable[[str, str], None]] = []
        self._watch = BucketWatch(js, subjects.CONFIG_BUCKET, self._apply)
        self.loaded = self._watch.loaded

    def on_change(self, listener: Callable[[str, str], None]) -> None:
        """`listener(kind, name)` runs after an item changed or was deleted."""
        self._listeners.append(listener)

    async def start(self) -> None:
        await self._watch.start()

    def _apply(self, entry: Any) -> None:
        kind, name = split_key(entry.key)
        if kind not in KINDS:
            return
        self.snapshot.revision = max(self.snapshot.revision, entry.revision or 0)
        if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
            self.snapshot.items[kind].pop(name, None)
        else:
            try:
                self.snapshot.items[kind][name] = decode_item(kind, entry.value)
            except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
                log.error("ignoring unreadable %s %r at revision %s: %s", kind, name, entry.revision, exc)
                return
        if self.loaded.is_set():
            log.info("configuration changed: %s %s (revision %s)", kind, name, entry.revision)
        for listener in self._listeners:
            try:
                listener(kind, name)
            except Exception:
                log.exception("config listener failed for %s %s", kind, name)

    async def stop(self) -> None:
        await self._watch.stop()


# ---------------------------------------------------------------------------------------- apply / read

@dataclass
class Plan:
    create: list[str] = field(default_factory=list)
    update: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return len(self.create) + len(self.update) + len(self.delete)


async def read_all(kv: KeyValue) -> dict[str, bytes]:
    try:
        keys = await kv.keys()
    except nats.js.errors.NoKeysError:
        return {}
    out = {}
    for key in keys:
        with contextlib.suppress(nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
            entry = await kv.get(key)
            if entry.value:
                out[key] = entry.value
    return out


async def read_config(js: JetStreamContext) -> Config:
    kv = await js.key_value(subjects.CONFIG_BUCKET)
    stored = await read_all(kv)
    lists: dict[str, list[Any]] = {k: [] for k in KINDS}
    for key, value in sorted(stored.items()):
        kind, _ = split_key(key)
        if kind in KINDS:
            lists[kind].append(decode_item(kind, value))
    return Config(**lists)


async def apply_config(js: JetStreamContext, config: Config, *, prune: bool = False,
                       dry_run: bool = False, actor: str | None = None) -> Plan:
    """Write every item of `config` whose stored value differs; with `prune`, delete the others.

    Each write carries the `Hookmesh-Applied-By` header (`actor`, default the OS user@host) so that
    `hookmesh history` can say who made each revision."""
    kv = await js.key_value(subjects.CONFIG_BUCKET)
    stored = await read_all(kv)
    known_destinations = {split_key(k)[1] for k in stored if split_key(k)[0] == "destinations"}
    problems = check_config(config, known_destinations=known_destinations)
    problems += registration_problems(config.schemas, stored_schemas(stored))
    if problems:
        from shared.errors import ConfigError
        raise ConfigError("; ".join(f"{f}: {r}" for f, r in problems))
    plan = Plan()
    wanted: dict[str, bytes] = {}
    for kind in KINDS:
        for item in getattr(config, kind):
            wanted[key_for(kind, item_name(kind, item))] = encode_item(item)
    for key, value in wanted.items():
        if key not in stored:
            plan.create.append(key)
        elif stored[key] != value:
            plan.update.append(key)
        else:
            plan.unchanged.append(key)
    if prune:
        plan.delete = sorted(k for k in stored if k not in wanted)
    if dry_run:
        return plan
    who = {APPLIED_BY: actor or applied_by()}
    for key in plan.create + plan.update:
        await js.publish(f"$KV.{subjects.CONFIG_BUCKET}.{key}", wanted[key], headers=who)
    for key in plan.delete:
        await js.publish(f"$KV.{subjects.CONFIG_BUCKET}.{key}", b"", headers={**who, "KV-Operation": KV_DEL})
    return plan


APPLIED_BY = "Hookmesh-Applied-By"


def applied_by() -> str:
    """Who is applying: $HOOKMESH_ACTOR (for CI and bots), else the OS user @ host."""
    import getpass
    import os
    import socket

    actor = os.environ.get("HOOKMESH_ACTOR")
    if actor:
        return actor
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"
