"""NATS down: ingress answers 503 with Retry-After, never 202; NATS back: it recovers by itself."""

from __future__ import annotations

from tests.support.mesh import Mesh, config_yaml
from tests.support.natsserver import NatsServer
from tests.support.polling import eventually
from tests.support.sink import RecordingSink


async def test_ingress_refuses_while_nats_is_down_and_recovers_without_restart(
        mesh_factory: type[Mesh], nats_server: NatsServer, sink: RecordingSink, sink_secret: str) -> None:
    mesh = mesh_factory()
    await mesh.apply(config_yaml(sink.url))
    await mesh.start()
    await mesh.nc.close()  # the test's own connection would only reconnect noisily
    mesh.nc = None
    before = [(await mesh.post("shop", {"order_id": f"before-{i}", "total": i})).json["id"] for i in range(5)]

    nats_server.kill()  # SIGKILL: no goodbye to the clients
    answers = [await mesh.post("shop", {"order_id": f"during-{i}", "total": i}) for i in range(5)]
    assert [a.status for a in answers] == [503] * 5
    assert all(a.headers.get("Retry-After") for a in answers)
    assert all(a.headers["Content-Type"].startswith("application/problem+json") for a in answers)
    ready = await mesh.request("GET", f"{mesh.url('ingress')}/readyz")
    assert ready.status == 503 and ready.json["checks"]["nats_connected"] is False

    nats_server.start()  # same port, same store

    async def accepted() -> str | None:
        response = await mesh.post("shop", {"order_id": "after", "total": 1})
        assert response.status in (202, 503), response.body
        return response.json["id"] if response.status == 202 else None

    after = await eventually(accepted, timeout=20, interval=0.2, what="ingress to accept again")
    accepted_ids = set(before) | {after}

    def missing() -> set[str]:
        return accepted_ids - {r.headers["webhook-id"] for r in sink.succeeded()}

    await eventually(lambda: not missing(), timeout=30, what="every event answered 202 to be delivered")
    # At-least-once: a hop interrupted by the outage may deliver again, always with the same webhook-id.
    assert {r.headers["webhook-id"] for r in sink.received} == accepted_ids
