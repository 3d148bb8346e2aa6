"""Replays: to another destination, edited (a new linked event), and in bulk — each delivered once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec
import pytest

from shared import subjects
from tests.support.deadletters import post_bad_orders, wait_for_letters
from tests.support.mesh import Mesh, config_yaml
from tests.support.polling import eventually
from tests.support.sink import RecordingSink

ORDER = {"order_id": "A-1001", "total": 42.5}


@pytest.fixture
async def backup() -> AsyncIterator[RecordingSink]:
    second = RecordingSink()
    await second.start()
    yield second
    await second.stop()


def with_backup(text: str, url: str) -> str:
    return text.replace("routes:\n", f"""  - name: backup
    url: {url}
    secret_env: TEST_SINK_SECRET
    allow_private_network: true
routes:
""")


async def test_replay_to_another_destination(mesh_factory: type[Mesh], sink: RecordingSink, backup: RecordingSink,
                                             sink_secret: str) -> None:
    sink.default_status = 422
    mesh = mesh_factory()
    await mesh.apply(with_backup(config_yaml(sink.url), backup.url))
    await mesh.start()
    event_id = (await mesh.post("shop", ORDER)).json["id"]
    [letter] = await wait_for_letters(mesh, 1, "stage=delivery")

    unknown = await mesh.dlq("POST", f"/{letter['id']}/replay", json={"destination": "nowhere"})
    assert unknown.status == 422 and unknown.json["destinations"] == ["backup", "sink"]
    replayed = await mesh.dlq("POST", f"/{letter['id']}/replay", json={"destination": "backup"})
    assert replayed.status == 202, replayed.body
    assert replayed.json["replay_subject"] == "hookmesh.deliver.backup"
    assert replayed.json["event_id"] == event_id  # the same event, so the receiver sees the same webhook-id
    [received] = await backup.wait_for(1)
    assert received.headers["webhook-id"] == event_id and received.event["data"] == ORDER

    again = await mesh.dlq("POST", f"/{letter['id']}/replay", json={"destination": "backup"})
    assert again.status == 200 and again.json["already_replayed"] is True
    elsewhere = await mesh.dlq("POST", f"/{letter['id']}/replay")  # a different request after the replay
    assert elsewhere.status == 409 and "already replayed" in elsewhere.json["detail"]
    await eventually(lambda: mesh.delivery_idle("backup"), what="backup delivery to go idle")
    assert len(backup.received) == 1 and len(sink.received) == 1
    shown = (await mesh.dlq("GET", f"/{letter['id']}")).json
    assert shown["status"] == "replayed" and shown["replay"]["destination"] == "backup"


async def test_edit_and_replay_sends_a_new_event_linked_to_the_old(
        mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str) -> None:
    mesh = mesh_factory()
    await mesh.apply(config_yaml(sink.url))
    await mesh.start()
    [old_id] = await post_bad_orders(mesh, 1)
    [letter] = await wait_for_letters(mesh, 1)
    fixed = {"order_id": "A-7", "total": 7}

    replayed = await mesh.dlq("POST", f"/{letter['id']}/replay", json={"data": fixed})
    assert replayed.status == 202, replayed.body
    new_id = replayed.json["event_id"]
    assert new_id != old_id and replayed.json["original_event_id"] == old_id and replayed.json["edited"] is True
    assert replayed.json["replay_subject"] == "hookmesh.ingress.shop"  # checked against the contract again
    [received] = await sink.wait_for(1)
    event = received.event
    assert received.headers["webhook-id"] == new_id and event["id"] == new_id
    assert event["replayof"] == old_id and event["data"] == fixed
    assert event["traceparent"].split("-")[1] == letter["trace_id"]  # the fix joins the failure's trace

    same = await mesh.dlq("POST", f"/{letter['id']}/replay", json={"data": {"total": 7, "order_id": "A-7"}})
    assert same.status == 200 and same.json["already_replayed"] and same.json["event_id"] == new_id
    other = await mesh.dlq("POST", f"/{letter['id']}/replay", json={"data": {"order_id": "A-8", "total": 8}})
    assert other.status == 409
    await eventually(lambda: mesh.delivery_idle("sink"), what="delivery to go idle")
    assert len(sink.received) == 1
    assert await mesh.stream_messages(subjects.INGRESS_STREAM) == 2  # the original and one edited replay


async def test_bulk_replay_twice_and_concurrently_delivers_each_once(
        mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str) -> None:
    sink.script = [422] * 4
    mesh = mesh_factory()
    await mesh.apply(config_yaml(sink.url))
    await mesh.start()
    ids = [(await mesh.post("shop", {**ORDER, "n": i})).json["id"] for i in range(4)]
    await wait_for_letters(mesh, 4, "reason=non_retryable_status")
    await post_bad_orders(mesh, 1)  # a validation letter the filter below must leave alone
    await wait_for_letters(mesh, 5)

    body = {"destination": "sink", "rate": 200}
    first, second = await asyncio.gather(mesh.dlq("POST", "/replay", json=body), mesh.dlq("POST", "/replay", json=body))
    assert first.status == second.status == 202
    assert first.json["matched"] == second.json["matched"] == 4
    assert first.json["replayed"] + second.json["replayed"] == 4
    assert first.json["already_replayed"] + second.json["already_replayed"] == 4
    await sink.wait_for(4)
    third = await mesh.dlq("POST", "/replay", json=body)
    assert third.status == 202 and third.json["matched"] == 0
    await eventually(lambda: mesh.delivery_idle("sink"), what="delivery to go idle")
    delivered = [r.headers["webhook-id"] for r in sink.succeeded()]
    assert sorted(delivered) == sorted(ids)  # each once, with its original id
    assert len(sink.received) == 8
    pending = (await mesh.dlq("GET", "?status=pending")).json["items"]
    assert [p["stage"] for p in pending] == ["validation"]


async def test_bulk_replay_streams_progress_as_ndjson(
        mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str) -> None:
    mesh = mesh_factory()
    await mesh.apply(config_yaml(sink.url, schema_required="[order_id]").replace(
        "order_id: {type: string}", "order_id: {type: integer}"))
    await mesh.start()
    await post_bad_orders(mesh, 3, source="shop")  # valid now: these reach the sink
    await sink.wait_for(3)
    bad = [(await mesh.post("shop", {"order_id": "x"})).json["id"] for _ in range(3)]
    await wait_for_letters(mesh, 3)
    response = await mesh.dlq("POST", "/replay", json={"reason": "schema_invalid"},
                              headers={"Accept": "application/x-ndjson"})
    assert response.status == 200 and response.headers["Content-Type"] == "application/x-ndjson"
    lines = [msgspec.json.decode(line) for line in response.body.splitlines()]
    assert [(line["done"], line["total"], line["result"]) for line in lines[:-1]] == [
        (1, 3, "replayed"), (2, 3, "replayed"), (3, 3, "replayed")]
    assert [line["event_id"] for line in lines[:-1]] == bad  # oldest first
    assert lines[-1]["summary"]["replayed"] == 3 and lines[-1]["summary"]["failed"] == 0
