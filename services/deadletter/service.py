"""deadletter wiring: reads hookmesh.dlq.> into an index, serves /v1/dead-letters, replays on request,
and announces every dead letter as an operational event (see opsevents.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

import msgspec
import nats.errors
import nats.js.errors
from aiohttp import web
from aiolimiter import AsyncLimiter
from nats.js.api import DeliverPolicy
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from services.deadletter import filters
from services.deadletter.opsevents import CONSUMER as OPS_CONSUMER
from services.deadletter.opsevents import OperationalEvents
from services.deadletter.replay import ReplayRequest, plan, publish, request_decoder
from services.deadletter.store import DeadLetterIndex, Status, present, status_decoder
from shared import subjects
from shared.deadletters import DeadLetter, dead_letter_decoder
from shared.envelope import now_rfc3339
from shared.errors import Conflict, MalformedBody, NotFound, RequestError, Unavailable
from shared.kvwatch import BucketWatch
from shared.nats_runtime import PullConsumer, ensure_consumer
from shared.problems import json_response
from shared.servicehost import ServiceContext

log = logging.getLogger("hookmesh.deadletter")
MAX_PAGE = 500
MAX_BULK = 100_000
MAX_RATE = 1000.0
NDJSON = "application/x-ndjson"


class _DepthCollector(Collector):
    def __init__(self, index: DeadLetterIndex) -> None:
        self.index = index

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("hookmesh_dead_letters", "Dead letters held, by reason and status",
                                   labels=["reason", "status"])
        for (reason, status), count in sorted(self.index.counts().items()):
            family.add_metric([reason, status], count)
        yield family


async def _json_body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise MalformedBody(f"the body is not valid JSON: {exc}") from None


def _whole(name: str, text: str, *, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise MalformedBody(f"{name}={text!r} is not a whole number") from None
    if not low <= value <= high:
        raise MalformedBody(f"{name} must be between {low} and {high}")
    return value


class DeadLetterService:
    name = "deadletter"

    def __init__(self, prune_interval: float = 5.0) -> None:
        self.index = DeadLetterIndex()
        self.caught_up = asyncio.Event()
        self.prune_interval = prune_interval
        self.ops_consumer: PullConsumer | None = None
        self._sub: Any = None
        self._status_watch: BucketWatch | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._last_seq_at_start = 0
        self._locks: dict[str, asyncio.Lock] = {}

    def http_routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v1/dead-letters", self.list),
            web.post("/v1/dead-letters/replay", self.replay_many),
            web.get("/v1/dead-letters/{id}", self.show),
            web.post("/v1/dead-letters/{id}/replay", self.replay_one),
            web.delete("/v1/dead-letters/{id}", self.discard),
        ]

    def pull_consumers(self) -> list[PullConsumer]:
        return [self.ops_consumer] if self.ops_consumer else []

    async def start(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        ctx.registry.register(_DepthCollector(self.index))
        self._status_watch = BucketWatch(ctx.js, subjects.DLQ_STATUS_BUCKET, self._apply_status)
        self.status_kv = await self._status_watch.start()
        info = await ctx.js.stream_info(subjects.DLQ_STREAM)
        self._last_seq_at_start = info.state.last_seq
        if info.state.messages == 0:
            self.caught_up.set()
        self._sub = await ctx.js.subscribe(subjects.DLQ_ALL, stream=subjects.DLQ_STREAM, ordered_consumer=True,
                                           deliver_policy=DeliverPolicy.ALL, cb=self._on_dead_letter)
        self._tasks.append(asyncio.create_task(self._prune_loop()))
        api_base = os.environ.get("HOOKMESH_DEADLETTER_URL") or ctx.settings.url("deadletter")
        ops = OperationalEvents(ctx.publisher, ctx.registry, api_base=api_base)
        await ensure_consumer(ctx.js, subjects.DLQ_STREAM, OPS_CONSUMER, subjects.DLQ_ALL,
                              description="hookmesh operational events for dead letters")
        self.ops_consumer = PullConsumer(ctx.nc, subjects.DLQ_STREAM, OPS_CONSUMER, ops.handle, tracer=ctx.tracer,
                                         metrics=ctx.metrics, max_in_flight=16)
        await self.ops_consumer.start()

    async def _on_dead_letter(self, msg: Any) -> None:
        seq = msg.metadata.sequence.stream
        letter = self.index.add(seq, msg.data)
        if letter is None:
            log.error("unreadable record at DLQ sequence %s; left in the stream", seq)
        elif self.index.status_of(letter.id) == "discarded":
            self.index.remove(letter.id)
        if seq >= self._last_seq_at_start or msg.metadata.num_pending == 0:
            self.caught_up.set()

    def _apply_status(self, entry: Any) -> None:
        if not entry.value:
            return
        with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
            status = status_decoder.decode(entry.value)
            self.index.statuses[entry.key] = status
            if status.status == "discarded":
                self.index.remove(entry.key)

    async def _prune_loop(self) -> None:
        """Dead letters expire by age and count (HOOKMESH_DLQ_MAX_AGE / _MAX_MSGS): forget them here too."""
        while True:
            await asyncio.sleep(self.prune_interval)
            with contextlib.suppress(nats.errors.Error, nats.js.errors.Error, asyncio.TimeoutError):
                await self.prune()

    async def prune(self) -> None:
        info = await self.ctx.js.stream_info(subjects.DLQ_STREAM)
        dropped = self.index.prune(info.state.first_seq)
        if dropped:
            log.info("%d dead letters expired by the DLQ's retention limits", dropped)

    async def stop(self, grace: float) -> None:
        if self.ops_consumer is not None:
            await self.ops_consumer.stop(grace)
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
        if self._status_watch is not None:
            await self._status_watch.stop()
        for task in self._tasks:
            task.cancel()

    def readiness(self) -> dict[str, Any]:
        return {"index_caught_up": self.caught_up.is_set(), "dead_letters": len(self.index.by_id),
                "operational_events_running": self.ops_consumer is not None}

    # ------------------------------------------------------------------------------------------- reads

    async def _load(self, letter_id: str) -> tuple[DeadLetter, int]:
        entry = self.index.by_id.get(letter_id)
        if entry is None:
            raise NotFound(f"no dead letter {letter_id!r}; list them with `hookmesh dlq list`")
        try:
            stored = await self.ctx.js.get_msg(subjects.DLQ_STREAM, entry.seq)
        except nats.js.errors.NotFoundError:
            self.index.remove(letter_id)
            raise NotFound(f"dead letter {letter_id!r} expired under the DLQ's retention limits") from None
        except (TimeoutError, nats.errors.Error) as exc:
            raise Unavailable(f"cannot read the dead letter from JetStream ({type(exc).__name__})",
                              headers={"Retry-After": "5"}) from None
        return dead_letter_decoder.decode(stored.data or b""), entry.seq

    async def list(self, request: web.Request) -> web.Response:
        query = request.query
        if len(query) != len(set(query.keys())):
            raise MalformedBody("give each filter once")
        flt = filters.build(dict(query), allowed=("limit", "cursor"))
        limit = min(_whole("limit", query.get("limit", "50"), low=1, high=2**31), MAX_PAGE)
        before = _whole("cursor", query["cursor"], low=1, high=2**63) if query.get("cursor") else None
        entries, cursor = self.index.query(flt, limit=limit, before_seq=before)
        items = []
        for entry in entries:
            with contextlib.suppress(NotFound):
                letter, _ = await self._load(entry.id)
                items.append(present(letter, self.index.statuses.get(entry.id)))
        return json_response({"items": items, "next": str(cursor) if cursor is not None else None})

    async def show(self, request: web.Request) -> web.Response:
        letter, _ = await self._load(request.match_info["id"])
        return json_response(present(letter, self.index.statuses.get(letter.id)))

    # ------------------------------------------------------------------------------------------- writes

    async def _replay(self, letter_id: str, request: ReplayRequest) -> tuple[int, dict[str, Any]]:
        # One replay of a letter at a time in this process, so a repeat sees the first one's status.
        async with self._locks.setdefault(letter_id, asyncio.Lock()):
            return await self._replay_locked(letter_id, request)

    async def _replay_locked(self, letter_id: str, request: ReplayRequest) -> tuple[int, dict[str, Any]]:
        status = self.index.statuses.get(letter_id)
        if status is not None:
            if status.status == "discarded":
                raise Conflict(f"dead letter {letter_id} was discarded at {status.at}")
            if (status.fingerprint or "plain") != request.fingerprint():
                raise Conflict(f"dead letter {letter_id} was already replayed at {status.at} "
                               f"({'edited' if status.edited else 'as it was'}"
                               f"{' to ' + status.destination if status.destination else ''}); a dead letter is "
                               "replayed once. If that replay failed too, it is a new dead letter: act on that one.")
            return 200, {"id": letter_id, "status": "replayed", "already_replayed": True, "replayed_at": status.at,
                         "replay_subject": status.replay_subject, "event_id": status.event_id}
        letter, _ = await self._load(letter_id)
        replay = plan(letter, request, set(self.ctx.config.snapshot.destinations))
        event_id = await publish(self.ctx.publisher, letter_id, replay)
        record = Status(status="replayed", at=now_rfc3339(), replay_subject=replay.subject, event_id=event_id,
                        destination=replay.destination, edited=replay.edited, fingerprint=replay.fingerprint)
        # If another replica replayed it at the same moment, the shared message id stored it once.
        try:
            await self.status_kv.create(letter_id, msgspec.json.encode(record))
        except nats.js.errors.KeyWrongLastSequenceError:
            pass
        except (TimeoutError, nats.errors.Error) as exc:
            # Sent, but not recorded: asking again within the duplicate window sends nothing more.
            raise Unavailable(f"replayed, but its status was not recorded ({type(exc).__name__}); ask again",
                              headers={"Retry-After": "5"}) from None
        self.index.statuses[letter_id] = record
        log.info("replayed dead letter into %s", replay.subject,
                 extra={"dead_letter_id": letter_id, "event_id": event_id})
        body: dict[str, Any] = {"id": letter_id, "event_id": event_id, "original_event_id": replay.original_event_id,
                                "status": "replayed", "replayed_at": record.at, "replay_subject": replay.subject,
                                "edited": replay.edited}
        if replay.destination:
            body["destination"] = replay.destination
        return 202, body

    async def replay_one(self, request: web.Request) -> web.Response:
        body = await request.read()
        replay_request = ReplayRequest()
        if body.strip():
            try:
                replay_request = request_decoder.decode(body)
            except msgspec.DecodeError as exc:
                raise MalformedBody(f"the body is not valid JSON: {exc}") from None
            except msgspec.ValidationError as exc:
                raise MalformedBody(f"the body is {{\"destination\": \"name\"}} and/or {{\"data\": ...}}: {exc}") \
                    from None
        status, data = await self._replay(request.match_info["id"], replay_request)
        return json_response(data, status=status)

    async def replay_many(self, request: web.Request) -> web.StreamResponse:
        """Replay every pending dead letter matching the filters, oldest first, at most `rate` per second.

        With `Accept: application/x-ndjson` the answer streams one progress line per dead letter and a
        final summary line; otherwise one JSON summary at the end.
        """
        body = await _json_body(request)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise MalformedBody("the body is a JSON object of filters, for example {\"reason\": \"schema_invalid\"}")
        if "status" in body:
            raise MalformedBody("a bulk replay replays pending dead letters only; leave out status")
        flt = filters.build(body, allowed=("rate", "limit")).with_status("pending")
        rate, limit = body.get("rate", 100), body.get("limit", 10_000)
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= MAX_RATE:
            raise MalformedBody(f"rate is replays per second, more than 0 and at most {MAX_RATE:g}")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_BULK:
            raise MalformedBody(f"limit is a whole number between 1 and {MAX_BULK}")
        entries = self.index.select(flt, limit=limit)
        # One replay every 1/rate seconds, no bursts: live traffic keeps its share of the stages.
        limiter = AsyncLimiter(1, 1.0 / rate)
        streaming = NDJSON in request.headers.get("Accept", "")
        response: web.StreamResponse | None = None
        if streaming:
            response = web.StreamResponse(status=200, headers={"Content-Type": NDJSON})
            await response.prepare(request)
        summary: dict[str, Any] = {"matched": len(entries), "replayed": 0, "already_replayed": 0, "failed": 0,
                                   "ids": [], "failed_ids": []}
        for done, entry in enumerate(entries, start=1):
            await limiter.acquire()
            line: dict[str, Any] = {"done": done, "total": len(entries), "id": entry.id, "event_id": entry.event_id}
            try:
                code, _ = await self._replay(entry.id, ReplayRequest())
                line["result"] = "replayed" if code == 202 else "already_replayed"
                summary["replayed" if code == 202 else "already_replayed"] += 1
                if code == 202:
                    summary["ids"].append(entry.id)
            except Unavailable as exc:
                summary["error"] = f"stopped: {exc.detail}"
                line.update(result="failed", error=exc.detail)
                summary["failed"] += 1
                summary["failed_ids"].append(entry.id)
                if response is not None:
                    await response.write(msgspec.json.encode(line) + b"\n")
                break
            except RequestError as exc:
                line.update(result="failed", error=exc.detail)
                summary["failed"] += 1
                summary["failed_ids"].append(entry.id)
            if response is not None:
                try:
                    await response.write(msgspec.json.encode(line) + b"\n")
                except (ConnectionResetError, RuntimeError):
                    log.warning("bulk replay stopped after %d of %d: the client went away", done, len(entries))
                    return response
        if response is None:
            return json_response(summary, status=202)
        await response.write(msgspec.json.encode({"summary": summary}) + b"\n")
        await response.write_eof()
        return response

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
