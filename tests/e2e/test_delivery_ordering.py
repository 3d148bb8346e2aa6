"""Ordered destinations: per partition key one event at a time and in order; keys in parallel; a failing
key does not hold up the others."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

import msgspec
import pytest
from aiohttp import web

from shared.embedded_nats import free_port
from tests.support.events import ROUTING_DELIVERY, config, destination, publish, route
from tests.support.http import serve
from tests.support.mesh import Mesh

KEYS = ("a", "b", "c", "d")
PER_KEY = 8
BAD_FAILURES = 4


class KeyedSink:
    """Answers 503 to key `bad` BAD_FAILURES times; records order and concurrency per key."""

    def __init__(self) -> None:
        self.port = free_port()
        self.delivered: dict[str, list[int]] = defaultdict(list)
        self.delivered_at: dict[str, list[float]] = defaultdict(list)
        self.in_flight: dict[str, int] = defaultdict(int)
        self.max_in_flight_per_key = 0
        self.max_in_flight_total = 0
        self.bad_failures = 0
        self.done = asyncio.Event()
        self.expected = 0

    async def handle(self, request: web.Request) -> web.Response:
        event = msgspec.json.decode(await request.read())
        key = event["partitionkey"]
        self.in_flight[key] += 1
        self.max_in_flight_per_key = max(self.max_in_flight_per_key, self.in_flight[key])
        self.max_in_flight_total = max(self.max_in_flight_total, sum(self.in_flight.values()))
        try:
            await asyncio.sleep(0.01)  # long enough for overlaps to show
            if key == "bad" and self.bad_failures < BAD_FAILURES:
                self.bad_failures += 1
                return web.Response(status=503)
            self.delivered[key].append(event["data"]["n"])
            self.delivered_at[key].append(time.monotonic())
            if sum(len(v) for v in self.delivered.values()) >= self.expected:
                self.done.set()
            return web.Response(status=204)
        finally:
            self.in_flight[key] -= 1

    async def start(self) -> web.AppRunner:
        app = web.Application()
        app.router.add_post("/hooks", self.handle)
        return await serve(app, self.port)


async def test_events_of_a_key_arrive_in_order_and_a_failing_key_holds_only_itself(
        mesh_factory: type[Mesh]) -> None:
    sink = KeyedSink()
    runner = await sink.start()
    try:
        mesh = mesh_factory(services=ROUTING_DELIVERY)
        await mesh.apply(config(
            [destination("ledger", f"http://127.0.0.1:{sink.port}/hooks", "ordered: true\nmax_in_flight: 8",
                         retry="{max_attempts: 10, initial: 200ms, max: 300ms}")],
            [route("orders", ["ledger"])]))
        await mesh.start()
        sink.expected = len(KEYS) * PER_KEY + 3
        for n in range(PER_KEY):
            for key in (*KEYS, "bad") if n < 3 else KEYS:
                await publish(mesh, {"n": n}, partitionkey=key)
        await asyncio.wait_for(sink.done.wait(), 15)

        for key in KEYS:
            assert sink.delivered[key] == list(range(PER_KEY)), key
        assert sink.delivered["bad"] == [0, 1, 2]  # retried in place, still in order
        assert sink.bad_failures == BAD_FAILURES
        assert sink.max_in_flight_per_key == 1  # one at a time per key
        assert sink.max_in_flight_total > 1  # keys in parallel
        # The good keys finished while `bad` was still being retried (its first success came after them).
        last_good = max(sink.delivered_at[k][-1] for k in KEYS)
        assert last_good < sink.delivered_at["bad"][0]
        assert (await mesh.dlq("GET")).json["items"] == []
    finally:
        await runner.cleanup()


def _ordered_attempts(mesh: Mesh) -> float:
    """Successful attempts this mesh's delivery replica made (all of them go to the ordered destination)."""
    registry = mesh.hosts["delivery"].registry
    return registry.get_sample_value("hookmesh_delivery_attempts_total",
                                     {"destination": "ledger", "result": "2xx"}) or 0.0


async def test_two_delivery_replicas_keep_key_order_with_one_pinned_reader_and_fail_over(
        mesh_factory: type[Mesh], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKMESH_ORDERED_FAILOVER_SECONDS", "3")
    sink = KeyedSink()
    runner = await sink.start()
    try:
        first = mesh_factory(services=ROUTING_DELIVERY)
        await first.apply(config(
            [destination("ledger", f"http://127.0.0.1:{sink.port}/hooks", "ordered: true\nmax_in_flight: 8")],
            [route("orders", ["ledger"])]))
        await first.start()
        second = await mesh_factory(services=("delivery",)).start()

        sink.expected = len(KEYS) * PER_KEY
        for n in range(PER_KEY):
            for key in KEYS:
                await publish(first, {"n": n}, partitionkey=key)
        await asyncio.wait_for(sink.done.wait(), 15)
        assert all(sink.delivered[key] == list(range(PER_KEY)) for key in KEYS), dict(sink.delivered)
        assert sink.max_in_flight_per_key == 1
        counts = sorted([_ordered_attempts(first), _ordered_attempts(second)])
        assert counts == [0, len(KEYS) * PER_KEY], "both replicas delivered ordered events"

        # The pinned replica goes away; after the failover timeout the other one takes over, in order.
        pinned, standby = (first, second) if _ordered_attempts(first) else (second, first)
        if pinned is first:
            await first.stop()
            publisher = mesh_factory(services=("routing",))
            await publisher.start()
        else:
            await second.stop()
            publisher = first
        sink.done.clear()
        sink.expected = len(KEYS) * PER_KEY * 2
        for n in range(PER_KEY, 2 * PER_KEY):
            for key in KEYS:
                await publish(publisher, {"n": n}, partitionkey=key)
        await asyncio.wait_for(sink.done.wait(), 20)
        assert all(sink.delivered[key] == list(range(2 * PER_KEY)) for key in KEYS), dict(sink.delivered)
        assert _ordered_attempts(standby) == len(KEYS) * PER_KEY
    finally:
        await runner.cleanup()
