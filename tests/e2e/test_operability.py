"""What operators read: /healthz, /readyz detail, and /metrics with bounded labels on every service."""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

from shared.settings import SERVICES
from tests.support.mesh import Mesh, config_yaml
from tests.support.polling import eventually
from tests.support.sink import RecordingSink

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


async def _samples(mesh: Mesh, service: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await mesh.request("GET", f"{mesh.url(service)}/metrics")
    assert response.status == 200
    out = {}
    for family in text_string_to_metric_families(response.body.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def test_health_readiness_and_metrics_on_every_service(
        mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str) -> None:
    mesh = mesh_factory()
    await mesh.apply(config_yaml(sink.url))
    await mesh.start()
    for service in SERVICES:
        health = await mesh.request("GET", f"{mesh.url(service)}/healthz")
        assert health.status == 200 and health.json["service"] == service
        ready = await mesh.request("GET", f"{mesh.url(service)}/readyz")
        assert ready.status == 200, ready.body
        assert ready.json["checks"]["nats_connected"] is True and ready.json["checks"]["config_loaded"] is True

    event_id = (await mesh.post("shop", {"order_id": "A-1", "total": 1})).json["id"]
    await sink.wait_for(1)
    await mesh.post("shop", {"order_id": 5})  # schema-invalid: a dead letter
    await eventually(lambda: _dead_letters(mesh), what="the dead-letter gauge")

    ingress = await _samples(mesh, "ingress")
    assert ingress[("hookmesh_ingress_requests_total", (("source", "shop"), ("status", "202")))] == 2
    validation = await _samples(mesh, "validation")
    assert validation[("hookmesh_consumer_pending", (("consumer", "validation"), ("stream", "HOOKMESH_INGRESS")))] == 0
    assert validation[("hookmesh_dead_lettered_total", (("reason", "schema_invalid"), ("service", "validation")))] == 1
    delivery = await _samples(mesh, "delivery")
    assert delivery[("hookmesh_delivery_attempts_total", (("destination", "sink"), ("result", "2xx")))] == 1
    assert delivery[("hookmesh_end_to_end_seconds_count", (("destination", "sink"),))] == 1
    ack_pending = ("hookmesh_consumer_ack_pending", (("consumer", "delivery_sink"), ("stream", "HOOKMESH_DELIVER")))
    assert ack_pending in delivery
    for service in SERVICES:
        samples = await _samples(mesh, service)
        assert samples[("hookmesh_nats_connected", (("service", service),))] == 1
        assert samples[("hookmesh_config_revision", (("service", service),))] >= 4
        labels = [value for _, label_set in samples for _, value in label_set]
        assert not any(UUID.search(v) for v in labels), f"{service} exposes an id as a label value"
        assert event_id not in str(labels)


async def _dead_letters(mesh: Mesh) -> bool:
    samples = await _samples(mesh, "deadletter")
    return samples.get(("hookmesh_dead_letters", (("reason", "schema_invalid"), ("status", "pending")))) == 1


async def test_readyz_explains_what_is_missing_when_nats_is_gone(
        mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str, nats_server: object) -> None:
    mesh = mesh_factory()
    await mesh.apply(config_yaml(sink.url))
    await mesh.start()
    await mesh.nc.close()
    mesh.nc = None
    nats_server.kill()  # type: ignore[attr-defined]

    async def not_ready() -> dict | None:
        response = await mesh.request("GET", f"{mesh.url('routing')}/readyz")
        return response.json if response.status == 503 else None

    body = await eventually(not_ready, what="routing to report not ready")
    assert body["ready"] is False and body["checks"]["nats_connected"] is False
    health = await mesh.request("GET", f"{mesh.url('routing')}/healthz")
    assert health.status == 200  # alive, just not ready: Kubernetes must not restart it for an outage
