"""Hot reload: a route changed in KV takes effect within a second while events keep flowing, none lost."""

from __future__ import annotations

import asyncio
import time

from tests.support.events import ROUTING_DELIVERY, config, destination, publish, route
from tests.support.mesh import Mesh
from tests.support.polling import eventually
from tests.support.sink import RecordingSink

RATE = 200  # events per second during the switch
SECONDS = 2.5


async def test_route_change_applies_within_a_second_under_load(mesh_factory: type[Mesh], sink: RecordingSink) -> None:
    new = RecordingSink()
    await new.start()
    try:
        mesh = mesh_factory(services=ROUTING_DELIVERY)
        dests = [destination("old", sink.url), destination("new", new.url)]
        await mesh.apply(config(dests, [route("orders", ["old"])]))
        await mesh.start()
        published: dict[str, float] = {}
        applied_at = 0.0

        async def load() -> None:
            start = time.monotonic()
            for i in range(int(RATE * SECONDS)):
                published[await publish(mesh, {"n": i})] = time.monotonic()
                await asyncio.sleep(max(0.0, start + (i + 1) / RATE - time.monotonic()))

        producer = asyncio.create_task(load())
        await asyncio.sleep(SECONDS / 3)  # let the load run before the change (pacing, not synchronisation)
        applied_at = time.monotonic()
        await mesh.apply(config(dests, [route("orders", ["new"])]))
        await producer
        total = len(published)

        async def all_delivered() -> bool:
            return len({r.headers["webhook-id"] for r in sink.received} | {r.headers["webhook-id"] for r in
                                                                              new.received}) >= total

        await eventually(all_delivered, what="every event delivered to one side or the other")
        old_ids = {r.headers["webhook-id"] for r in sink.received}
        new_ids = {r.headers["webhook-id"] for r in new.received}
        assert old_ids | new_ids == set(published)  # none lost
        assert not old_ids & new_ids  # each went to exactly one side of the change
        late_to_old = [i for i in old_ids if published[i] > applied_at + 1.0]
        assert late_to_old == []  # the change took effect within a second
        switch = max((published[i] for i in old_ids), default=applied_at) - applied_at
        print(f"{total} events at {RATE}/s; last event to the old route published {switch * 1000:.0f} ms after apply")
        assert old_ids and new_ids
    finally:
        await new.stop()
