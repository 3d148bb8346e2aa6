"""deadletter wiring: reads hookmesh.dlq.> into an index, serves /v1/dead-letters, replays on request."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import msgspec
import nats.js.errors
from aiohttp import web
from aiolimiter import AsyncLimiter
from nats.js.api import DeliverPolicy
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from services.deadletter.replay import replay
from services.deadletter.store import FILTERS, DeadLetterIndex, Status, present, status_decoder
from shared import subjects
from shared.deadletters import DeadLetter, dead_letter_decoder
from shared.envelope import now_rfc3339
from shared.errors import Conflict, MalformedBody, NotFound
from shared.problems import json_response
from shared.servicehost import ServiceContext

log = logging.getLogger("hookmesh.deadletter")
MAX_PAGE = 500


class _DepthCollector(Collector):
    def __init__(self, index: DeadLetterIndex) -> None:
        self.index = index

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("hookmesh_dead_letters", "Dead letters held, by reason and status",
                                   labels=["reason", "status"])
        for (reason, status), count in sorted(self.index.counts().items()):
            family.add_metric([reason, status], count)
        yield family


class DeadLetterService:
    name = "deadletter"

    def __init__(self) -> None:
        self.index = DeadLetterIndex()
        self.caught_up = asyncio.Event()
        self._sub: Any = None
        self._status_watcher: Any = None
        self._status_task: asyncio.Task[None] | None = None
        self._last_seq_at_start = 0

    def http_routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v1/dead-letters", self.list),
            web.post("/v1/dead-letters/replay", self.replay_many),
            web.get("/v1/dead-letters/{id}", self.show),
            web.post("/v1/dead-letters/{id}/replay", self.replay_one),
            web.delete("/v1/dead-letters/{id}", self.discard),
        ]

    async def start(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        ctx.registry.register(_DepthCollector(self.index))
        self.status_kv = await ctx.js.key_value(subjects.DLQ_STATUS_BUCKET)
        self._status_watcher = await self.status_kv.watchall()
        self._status_task = asyncio.create_task(self._watch_statuses())
        info = await ctx.js.stream_info(subjects.DLQ_STREAM)
        self._last_seq_at_start = info.state.last_seq
        if info.state.messages == 0:
            self.caught_up.set()
        self._sub = await ctx.js.subscribe(subjects.DLQ_ALL, stream=subjects.DLQ_STREAM, ordered_consumer=True,
                                           deliver_policy=DeliverPolicy.ALL, cb=self._on_dead_letter)

    async def _on_dead_letter(self, msg: Any) -> None:
        seq = msg.metadata.sequence.stream
        letter = self.index.add(seq, msg.data)
        if letter is None:
            log.error("unreadable record at DLQ sequence %s; left in the stream", seq)
        elif self.index.status_of(letter.id) == "discarded":
            self.index.remove(letter.id)
        if seq >= self._last_seq_at_start or msg.metadata.num_pending == 0:
            self.caught_up.set()

    async def _watch_statuses(self) -> None:
        async for entry in self._status_watcher:
            if entry is None or not entry.value:
                continue
            with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
                status = status_decoder.decode(entry.value)
                self.index.statuses[entry.key] = status
                if status.status == "discarded":
                    self.index.remove(entry.key)

    async def stop(self, grace: float) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
        if self._status_watcher is not None:
            with contextlib.suppress(Exception):
                await self._status_watcher.stop()
        if self._status_task is not None:
            self._status_task.cancel()

    def readiness(self) -> dict[str, Any]:
        return {"index_caught_up": self.caught_up.is_set(), "dead_letters": len(self.index.by_id)}

    # ------------------------------------------------------------------------------------------- reads

    async def _load(self, letter_id: str) -> tuple[DeadLetter, int]:
        entry = self.index.by_id.get(letter_id)
        if entry is None:
            raise NotFound(f"no dead letter {letter_id!r}; list them with `hookmesh dlq list`")
        stored = await self.ctx.js.get_msg(subjects.DLQ_STREAM, entry.seq)
        return dead_letter_decoder.decode(stored.data or b""), entry.seq

    async def list(self, request: web.Request) -> web.Response:
        query = request.query
        filters = {k: query[k] for k in FILTERS if query.get(k)}
        try:
            limit = min(int(query.get("limit", "50")), MAX_PAGE)
            before = int(query["cursor"]) if query.get("cursor") else None
        except ValueError:
            raise MalformedBody("limit and cursor are whole numbers") from None
        if limit < 1:
            raise MalformedBody("limit must be at least 1")
        entries, cursor = self.index.query(filters, limit=limit, before_seq=before)
        items = []
        for entry in entries:
            with contextlib.suppress(nats.js.errors.NotFoundError):
                letter, _ = await self._load(entry.id)
                items.append(present(letter, self.index.statuses.get(entry.id)))
        return json_response({"items": items, "next": str(cursor) if cursor is not None else None})

    async def show(self, request: web.Request) -> web.Response:
        letter, _ = await self._load(request.match_info["id"])
        return json_response(present(letter, self.index.statuses.get(letter.id)))

    # ------------------------------------------------------------------------------------------- writes

    async def _replay(self, letter_id: str) -> tuple[int, dict[str, Any]]:
        status = self.index.statuses.get(letter_id)
        if status is not None:
            if status.status == "discarded":
                raise Conflict(f"dead letter {letter_id} was discarded at {status.at}")
            return 200, {"id": letter_id, "status": "replayed", "already_replayed": True, "replayed_at": status.at,
                         "replay_subject": status.replay_subject}
        letter, _ = await self._load(letter_id)
        subject = await replay(self.ctx.publisher, letter)
        record = Status(status="replayed", at=now_rfc3339(), replay_subject=subject)
        # If another replica replayed it at the same moment, the shared message id stored it once.
        with contextlib.suppress(nats.js.errors.KeyWrongLastSequenceError):
            await self.status_kv.create(letter_id, msgspec.json.encode(record))
        self.index.statuses[letter_id] = record
        log.info("replayed dead letter into %s", subject, extra={"dead_letter_id": letter_id,
                                                                 "event_id": letter.event_id})
        return 202, {"id": letter_id, "event_id": letter.event_id, "status": "replayed", "replayed_at": record.at,
                     "replay_subject": subject}

    async def replay_one(self, request: web.Request) -> web.Response:
        status, body = await self._replay(request.match_info["id"])
        return json_response(body, status=status)

    async def replay_many(self, request: web.Request) -> web.Response:
        """Replay every pending dead letter matching the filters, at most `rate` per second."""
        try:
            raw = await request.read()
            body = msgspec.json.decode(raw) if raw else {}
        except msgspec.DecodeError as exc:
            raise MalformedBody(f"the body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise MalformedBody("the body is a JSON object of filters, for example {\"reason\": \"schema_invalid\"}")
        filters = {k: str(body[k]) for k in FILTERS if body.get(k)}
        filters["status"] = "pending"
        limit = int(body.get("limit", 10_000))
        limiter = AsyncLimiter(max(1.0, float(body.get("rate", 100))), 1.0)
        entries, _ = self.index.query(filters, limit=limit, before_seq=None)
        replayed, failed = [], []
        for entry in reversed(entries):  # oldest first, the order they failed in
            await limiter.acquire()
            try:
                await self._replay(entry.id)
                replayed.append(entry.id)
            except Conflict:
                failed.append(entry.id)
        return json_response({"matched": len(entries), "replayed": len(replayed), "failed": len(failed),
                              "ids": replayed, "failed_ids": failed}, status=202)

    async def discard(self, request: web.Request) -> web.Response:
        letter_id = request.match_info["id"]
        _, seq = await self._load(letter_id)
        record = Status(status="discarded", at=now_rfc3339())
        await self.status_kv.put(letter_id, msgspec.json.encode(record))
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await self.ctx.js.delete_msg(subjects.DLQ_STREAM, seq)
        self.index.statuses[letter_id] = record
        self.index.remove(letter_id)
        return json_response({"id": letter_id, "status": "discarded", "discarded_at": record.at})
