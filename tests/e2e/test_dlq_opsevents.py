"""Operational events: every dead letter is announced on hookmesh.events.com.hookmesh.>, routable like any
event — here to a compensation webhook (the saga pattern) — and never about hookmesh's own events."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared import subjects
from tests.support.deadletters import post_bad_orders, wait_for_letters
from tests.support.mesh import Mesh, config_yaml
from tests.support.polling import eventually
from tests.support.sink import RecordingSink

ORDER = {"order_id": "A-1001", "total": 42.5}


@pytest.fixture
async def compensation() -> AsyncIterator[RecordingSink]:
    hook = RecordingSink()
    await hook.start()
    yield hook
    await hook.stop()


def with_compensation(text: str, url: str) -> str:
    """Adds a destination `compensate` and a route sending hookmesh's operational events to it."""
    return text.replace("routes:\n", f"""  - name: compensate
    url: {url}
    secret_env: TEST_SINK_SECRET
    retry: {{max_attempts: 1, initial: 100ms, max: 1s}}
    allow_private_network: true
routes:
  - name: saga
    match: {{type: [com.hookmesh.delivery.failed, com.hookmesh.event.rejected]}}
    to: [compensate]
""")


async def _ops_consumer_idle(mesh: Mesh) -> bool:
    return await mesh.consumer_idle(subjects.DLQ_STREAM, "deadletter_opsevents")


async def test_failed_delivery_is_announced_and_routed_to_a_compensation_webhook(
        mesh_factory: type[Mesh], sink: RecordingSink, compensation: RecordingSink, sink_secret: str) -> None:
    sink.default_status = 422
    mesh = mesh_factory()
    await mesh.apply(with_compensation(config_yaml(sink.url), compensation.url))
    await mesh.start()
    event_id = (await mesh.post("shop", {**ORDER, "region": "eu"})).json["id"]
    [letter] = await wait_for_letters(mesh, 1)

    [received] = await compensation.wait_for(1)
    event = received.event
    assert event["type"] == "com.hookmesh.delivery.failed"
    assert event["source"] == "/hookmesh/system"
    assert event["subject"] == event_id and received.headers["webhook-id"] == event["id"]
    data = event["data"]
    assert data["dead_letter_id"] == letter["id"] and data["event_id"] == event_id
    assert (data["stage"], data["reason"], data["destination"], data["source"]) == (
        "delivery", "non_retryable_status", "sink", "shop")
    assert data["status"] == 422 and "422" in data["error"]
    assert data["trace_id"] == letter["trace_id"]
    assert data["links"]["replay"] == f"{mesh.url('deadletter')}/v1/dead-letters/{letter['id']}/replay"
    assert event["traceparent"].split("-")[1] == letter["trace_id"]  # one trace: failure and compensation

    # The link works: the compensation step (or an operator) can replay from it.
    sink.default_status = 204
    replay = await mesh.request("POST", data["links"]["replay"])
    assert replay.status == 202
    await sink.wait_for(1)


async def test_rejected_event_is_announced(
        mesh_factory: type[Mesh], sink: RecordingSink, compensation: RecordingSink, sink_secret: str) -> None:
    mesh = mesh_factory()
    await mesh.apply(with_compensation(config_yaml(sink.url), compensation.url))
    await mesh.start()
    [event_id] = await post_bad_orders(mesh, 1)
    [received] = await compensation.wait_for(1)
    assert received.event["type"] == "com.hookmesh.event.rejected"
    data = received.event["data"]
    assert (data["event_id"], data["stage"], data["reason"], data["source"]) == (
        event_id, "validation", "schema_invalid", "shop")
    assert data["destination"] is None


async def test_a_failing_operational_event_is_dead_lettered_without_another_announcement(
        mesh_factory: type[Mesh], sink: RecordingSink, compensation: RecordingSink, sink_secret: str) -> None:
    sink.default_status = 422
    compensation.default_status = 500  # the compensation webhook is down too: no loop may follow
    mesh = mesh_factory()
    await mesh.apply(with_compensation(config_yaml(sink.url), compensation.url))
    await mesh.start()
    await mesh.post("shop", ORDER)
    letters = await wait_for_letters(mesh, 2)
    assert sorted(i["type"] for i in letters) == ["com.acme.order.created", "com.hookmesh.delivery.failed"]
    await eventually(lambda: _ops_consumer_idle(mesh), what="the operational events consumer to go idle")
    nc = await mesh.connect()
    ops = await nc.jetstream().stream_info(subjects.EVENTS_STREAM, subjects_filter="hookmesh.events.com.hookmesh.>")
    assert ops.state.subjects == {"hookmesh.events.com.hookmesh.delivery.failed": 1}
    metrics = (await mesh.request("GET", f"{mesh.url('deadletter')}/metrics")).body.decode()
    assert 'hookmesh_operational_events_skipped_total{why="hookmesh_event"} 1.0' in metrics
    assert 'hookmesh_operational_events_total{type="com.hookmesh.delivery.failed"} 1.0' in metrics
