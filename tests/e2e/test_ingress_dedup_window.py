"""Dedup keys live in the hookmesh_dedup KV bucket for the source's dedup_window, across restarts."""

from __future__ import annotations

import nats.js.errors

from services.ingress.dedup import DedupStore
from shared import subjects
from tests.e2e.ingress_support import sources_yaml, stored
from tests.support.mesh import Mesh
from tests.support.natsserver import NatsServer
from tests.support.polling import eventually

ORDER = {"order_id": "A-1", "total": 5}
SOURCE = ("  - name: shop\n    event_type: com.acme.order.created\n    schema_version: 1\n"
          "    dedup_key: header:Idempotency-Key\n")


async def test_dedup_survives_a_restart_of_the_service(mesh_factory: type[Mesh], nats_server: NatsServer) -> None:
    first_mesh = mesh_factory(services=("ingress",))
    await first_mesh.apply(sources_yaml(SOURCE))
    await first_mesh.start()
    first = await first_mesh.post("shop", ORDER, headers={"Idempotency-Key": "zap-77"})
    assert first.status == 202
    await first_mesh.stop()
    # The stream's own 2-minute duplicate window must not be what answers: empty the stream.
    nc = await mesh_factory(services=()).connect()
    await nc.jetstream().purge_stream(subjects.INGRESS_STREAM)

    second_mesh = mesh_factory(services=("ingress",))
    await second_mesh.start()
    again = await second_mesh.post("shop", {**ORDER, "total": 6}, headers={"Idempotency-Key": "zap-77"})
    assert again.status == 202
    assert again.json == {"id": first.json["id"], "duplicate": True}
    assert await stored(second_mesh) == []
    kv = await nc.jetstream().key_value(subjects.DEDUP_BUCKET)
    entry = await kv.get(DedupStore.key("shop", "zap-77"))
    assert entry.value == first.json["id"].encode()


async def test_key_is_accepted_again_after_its_window(mesh_factory: type[Mesh]) -> None:
    mesh = mesh_factory(services=("ingress",))
    await mesh.apply(sources_yaml(SOURCE + "    dedup_window: 1s\n"))
    await mesh.start()
    first = await mesh.post("shop", ORDER, headers={"Idempotency-Key": "k-1"})
    assert (await mesh.post("shop", ORDER, headers={"Idempotency-Key": "k-1"})).json["duplicate"] is True
    kv = await (await mesh.connect()).jetstream().key_value(subjects.DEDUP_BUCKET)

    async def expired() -> bool:
        try:
            await kv.get(DedupStore.key("shop", "k-1"))
        except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
            return True
        return False

    await eventually(expired, timeout=5, what="the dedup key to expire by its TTL")
    later = await mesh.post("shop", ORDER, headers={"Idempotency-Key": "k-1"})
    assert later.status == 202 and "duplicate" not in later.json
    assert later.json["id"] != first.json["id"]
    assert len(await stored(mesh)) == 2
