"""Load through the real ingress, and the tally fault tests assert on: for every id answered 202, did it
reach the destination, and how often.

The driver posts at a fixed rate with a bounded number of requests in flight, and records every answer;
the tally compares the ids answered 202 with the `webhook-id`s a RecordingSink received.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec

from tests.support.sink import RecordingSink


@dataclass
class LoadDriver:
    """POST `events` JSON bodies to `url` at `rate` per second, at most `concurrency` at once."""

    url: str
    events: int
    rate: float = 150.0
    concurrency: int = 16
    invalid_every: int = 0  # every n-th body breaks the schema (a negative total): a dead letter, not a delivery
    headers: dict[str, str] = field(default_factory=dict)
    accepted: dict[str, float] = field(default_factory=dict)  # event id -> when the 202 came
    invalid: set[str] = field(default_factory=set)  # accepted ids of bodies that break the schema
    posted_at: dict[str, float] = field(default_factory=dict)  # accepted event id -> when its POST began
    statuses: Counter[str] = field(default_factory=Counter)
    answers: list[tuple[float, str]] = field(default_factory=list)  # (when, status or error name)
    sent: int = 0
    _stopping: bool = False
    _task: asyncio.Task[None] | None = None

    def is_invalid(self, i: int) -> bool:
        return bool(self.invalid_every) and i % self.invalid_every == self.invalid_every - 1

    def body(self, i: int) -> dict[str, Any]:
        return {"order_id": f"F-{i}", "total": -1 if self.is_invalid(i) else i}

    def start(self) -> LoadDriver:
        self._task = asyncio.create_task(self._run())
        return self

    def stop(self) -> None:
        """Send nothing more (`events` is then an upper bound); `finished()` waits for the answers."""
        self._stopping = True

    async def finished(self, timeout: float = 60.0) -> None:
        assert self._task is not None
        await asyncio.wait_for(self._task, timeout)

    async def _run(self) -> None:
        gate = asyncio.Semaphore(self.concurrency)
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            async def one(i: int) -> None:
                began = time.monotonic()
                try:
                    data = msgspec.json.encode(self.body(i))
                    headers = {"Content-Type": "application/json", **self.headers}
                    async with http.post(self.url, data=data, headers=headers) as resp:
                        body = await resp.read()
                        status = str(resp.status)
                        if resp.status == 202:
                            event_id = msgspec.json.decode(body)["id"]
                            self.accepted[event_id] = time.monotonic()
                            self.posted_at[event_id] = began
                            if self.is_invalid(i):
                                self.invalid.add(event_id)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    status = type(exc).__name__
                finally:
                    gate.release()
                self.statuses[status] += 1
                self.answers.append((time.monotonic(), status))

            tasks: list[asyncio.Task[None]] = []
            started = time.monotonic()
            for i in range(self.events):
                if self._stopping:
                    break
                due = started + i / self.rate
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)  # pacing the load, not synchronisation
                await gate.acquire()
                self.sent += 1
                tasks.append(asyncio.create_task(one(i)))
            await asyncio.gather(*tasks)

    def first_after(self, moment: float, status: str = "202") -> float | None:
        """When the first answer with `status` came after `moment` (monotonic), or None."""
        return next((at for at, s in self.answers if at > moment and s == status), None)

    def count_between(self, start: float, end: float, status: str) -> int:
        return sum(1 for at, s in self.answers if start <= at <= end and s == status)


@dataclass
class Tally:
    sent: int
    accepted: int
    delivered: int
    lost: int
    duplicates: int
    unacknowledged_delivered: int
    foreign_ids: int
    recover_s: float | None
    statuses: dict[str, int]

    def print(self, name: str, **more: Any) -> None:
        figures = {"sent": self.sent, "accepted": self.accepted, "delivered": self.delivered, "lost": self.lost,
                   "duplicates": self.duplicates, "delivered_without_202": self.unacknowledged_delivered,
                   "recover_s": None if self.recover_s is None else round(self.recover_s, 2),
                   "statuses": self.statuses, **more}
        print(f"\n[faults] {name}: " + " ".join(f"{k}={v}" for k, v in figures.items()))


def undelivered(load: LoadDriver, sink: RecordingSink) -> set[str]:
    """Accepted ids (of valid bodies) the sink has not acknowledged yet."""
    return set(load.accepted) - load.invalid - {r.headers.get("webhook-id", "") for r in sink.succeeded()}


def tally(load: LoadDriver, sink: RecordingSink, *, recover_s: float | None = None,
          dead_lettered: set[str] | None = None) -> Tally:
    """Compare ids answered 202 with the webhook-ids the sink acknowledged (2xx).

    `unacknowledged_delivered` are deliveries of events whose POST did not get its 202 (the process
    died after the publish, before answering: at-least-once, the sender would retry). `foreign_ids` are
    webhook-ids that match no event the test ever sent: always a bug.
    """
    delivered = Counter(r.headers.get("webhook-id", "") for r in sink.succeeded())
    accepted = set(load.accepted) - load.invalid
    lost = (accepted - set(delivered)) | (load.invalid - (dead_lettered or set()))
    duplicates = sum(n - 1 for n in delivered.values() if n > 1)
    # Every delivery's body id must be its webhook-id: a duplicate is the same event, not a copy with a new id.
    foreign = {r.headers.get("webhook-id", "") for r in sink.received if r.event.get("id") != r.headers.get(
        "webhook-id")}
    order_ids = {r.headers.get("webhook-id", ""): r.event.get("data", {}).get("order_id") for r in sink.received}
    foreign |= {w for w, order in order_ids.items() if not str(order).startswith("F-")}
    unacknowledged = set(delivered) - accepted
    return Tally(load.sent, len(load.accepted), len(accepted & set(delivered)), len(lost), duplicates,
                 len(unacknowledged), len(foreign), recover_s, dict(load.statuses))


async def dead_letter_event_ids(deadletter_url: str, *, reason: str | None = None,
                                headers: dict[str, str] | None = None) -> list[str]:
    """Every dead letter's event_id from the dead-letter API (all pages; one entry per dead letter)."""
    ids: list[str] = []
    cursor: str | None = None
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10), headers=headers) as http:
        while True:
            params = {"limit": "500", **({"reason": reason} if reason else {})}
            if cursor:
                params["cursor"] = cursor
            async with http.get(f"{deadletter_url}/v1/dead-letters", params=params) as resp:
                assert resp.status == 200, await resp.text()
                page = await resp.json()
            ids += [item["event_id"] for item in page["items"]]
            cursor = page["next"]
            if not cursor:
                return ids
