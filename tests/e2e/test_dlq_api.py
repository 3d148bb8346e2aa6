"""The dead-letter API: filters (time range included), paging, one letter, discard, bad input, retention,
and the depth metric."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared import subjects
from tests.support.deadletters import SECOND_SOURCE, listed, post_bad_orders, wait_for_letters
from tests.support.mesh import Mesh, config_yaml
from tests.support.polling import eventually
from tests.support.sink import RecordingSink

ORDER = {"order_id": "A-1001", "total": 42.5}


def _after(timestamp: str) -> str:
    at = datetime.fromisoformat(timestamp.replace("Z", "+00:00")) + timedelta(milliseconds=1)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def test_filters_by_every_attribute_and_by_time_range(
        mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str) -> None:
    sink.default_status = 422
    mesh = mesh_factory()
    await mesh.apply(config_yaml(sink.url, source_extra=SECOND_SOURCE))
    await mesh.start()
    early = await post_bad_orders(mesh, 2)
    first = await wait_for_letters(mesh, 2)
    boundary = _after(max(i["last_failure"] for i in first))
    late = await post_bad_orders(mesh, 1, source="crm")
    delivered_id = (await mesh.post("shop", ORDER)).json["id"]  # valid, but the sink answers 422
    await wait_for_letters(mesh, 4)

    async def ids(query: str) -> set[str]:
        return {i["event_id"] for i in await listed(mesh, query)}

    assert await ids("stage=validation") == {*early, *late}
    assert await ids("stage=delivery") == {delivered_id}
    assert await ids("reason=non_retryable_status") == {delivered_id}
    assert await ids("reason=schema_invalid&source=crm") == set(late)
    assert await ids("destination=sink") == {delivered_id}
    assert await ids("type=com.acme.order.created&source=shop") == {*early, delivered_id}
    assert await ids(f"event_id={late[0]}") == set(late)
    assert await ids("status=pending&stage=delivery") == {delivered_id}
    assert await ids("status=replayed") == set()
    assert await ids(f"until={boundary}") == set(early)
    assert await ids(f"since={boundary}") == {*late, delivered_id}
    assert await ids(f"since={boundary}&stage=validation") == set(late)
    assert await ids("since=1h") == {*early, *late, delivered_id}  # a duration means "that long ago"
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert await ids(f"since={future.replace('+', '%2B')}") == set()


async def test_pages_follow_the_cursor_within_a_filter(
        mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str) -> None:
    mesh = mesh_factory()
    await mesh.apply(config_yaml(sink.url, source_extra=SECOND_SOURCE))
    await mesh.start()
    shop = await post_bad_orders(mesh, 5)
    await post_bad_orders(mesh, 2, source="crm")
    await wait_for_letters(mesh, 7)
    seen: list[str] = []
    cursor = None
    for _ in range(10):  # bounded: 5 letters in pages of 2 take 3 pages
        page = (await mesh.dlq("GET", "?source=shop&limit=2" + (f"&cursor={cursor}" if cursor else ""))).json
        seen += [i["event_id"] for i in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == list(reversed(shop))  # newest first, each once, none of crm's


async def test_show_and_discard(mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str) -> None:
    mesh = mesh_factory()
    await mesh.apply(config_yaml(sink.url))
    await mesh.start()
    [event_id] = await post_bad_orders(mesh, 1)
    [letter] = await wait_for_letters(mesh, 1)
    shown = await mesh.dlq("GET", f"/{letter['id']}")
    assert shown.status == 200
    assert shown.json["event_id"] == event_id and shown.json["event"]["id"] == event_id
    discarded = await mesh.dlq("DELETE", f"/{letter['id']}")
    assert discarded.status == 200 and discarded.json["status"] == "discarded"
    assert await listed(mesh) == []
    assert (await mesh.dlq("GET", f"/{letter['id']}")).status == 404
    assert (await mesh.dlq("DELETE", f"/{letter['id']}")).status == 404
    refused = await mesh.dlq("POST", f"/{letter['id']}/replay")
    assert refused.status == 409 and "was discarded at" in refused.json["detail"]
    assert await mesh.stream_messages(subjects.DLQ_STREAM) == 0


BAD_REQUESTS = [
    ("GET", "?colour=red", None, 400, "unknown filter colour"),
    ("GET", "?cursor=abc", None, 400, "cursor='abc' is not a whole number"),
    ("GET", "?cursor=0", None, 400, "cursor must be between"),
    ("GET", "?limit=0", None, 400, "limit must be between"),
    ("GET", "?since=yesterday", None, 400, "neither an RFC 3339 time"),
    ("GET", "?since=1h&until=2h", None, 400, "since must be earlier than until"),
    ("GET", "?status=lost", None, 400, "status='lost' is not one of"),
    ("GET", "?stage=a&stage=b", None, 400, "give each filter once"),
    ("GET", "/no-such-id", None, 404, "no dead letter"),
    ("POST", "/replay", b"{", 400, "not valid JSON"),
    ("POST", "/replay", b"[1]", 400, "JSON object of filters"),
    ("POST", "/replay", b'{"reasn": "x"}', 400, "unknown filter reasn"),
    ("POST", "/replay", b'{"status": "replayed"}', 400, "pending dead letters only"),
    ("POST", "/replay", b'{"rate": 0}', 400, "rate is replays per second"),
    ("POST", "/replay", b'{"limit": "ten"}', 400, "limit is a whole number"),
    ("POST", "/replay", b'{"reason": 5}', 400, "filter reason must be a string"),
    ("POST", "/no-such-id/replay", None, 404, "no dead letter"),
    ("DELETE", "/no-such-id", None, 404, "no dead letter"),
    ("GET", "?limit=1", None, 200, None),  # and a good one, so the table cannot pass on a dead service
]


async def test_bad_requests_get_problem_json(mesh_factory: type[Mesh]) -> None:
    mesh = mesh_factory(services=("deadletter",))
    await mesh.start()
    for method, path, body, status, detail in BAD_REQUESTS:
        response = await mesh.dlq(method, path, data=body, headers={"Content-Type": "application/json"})
        assert response.status == status, (method, path, response.body)
        if detail is not None:
            assert response.headers["Content-Type"].startswith("application/problem+json")
            assert detail in response.json["detail"], (method, path, response.json)


async def test_bad_replay_bodies_get_problem_json(
        mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str) -> None:
    mesh = mesh_factory()
    await mesh.apply(config_yaml(sink.url))
    await mesh.start()
    await post_bad_orders(mesh, 1)
    [letter] = await wait_for_letters(mesh, 1)
    path = f"/{letter['id']}/replay"
    for body, status, detail in [
        (b"{", 400, "not valid JSON"),
        (b'{"dest": "sink"}', 400, "unknown field `dest`"),
        (b'{"destination": 3}', 400, "Expected `str | null`"),
        (b'{"destination": "sink"}', 422, "only delivery-stage dead letters"),
    ]:
        response = await mesh.dlq("POST", path, data=body)
        assert response.status == status, (body, response.body)
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert detail in response.json["detail"], response.json
    assert (await listed(mesh))[0]["status"] == "pending"  # none of those replayed anything


async def test_retention_by_count_and_the_depth_metric(
        mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKMESH_DLQ_MAX_MSGS", "3")
    monkeypatch.setenv("HOOKMESH_DLQ_MAX_AGE", "2d")
    mesh = mesh_factory()
    await mesh.apply(config_yaml(sink.url))
    await mesh.start()
    info = await (await mesh.connect()).jetstream().stream_info(subjects.DLQ_STREAM)
    assert (info.config.max_msgs, info.config.max_age) == (3, 2 * 86400)
    ids = await post_bad_orders(mesh, 5)

    async def kept() -> bool:
        state = (await (await mesh.connect()).jetstream().stream_info(subjects.DLQ_STREAM)).state
        return state.last_seq == 5 and state.messages == 3

    await eventually(kept, what="the DLQ to hold the newest 3 of 5")
    assert [i["event_id"] for i in await listed(mesh)] == list(reversed(ids[2:]))

    async def metric() -> str:
        response = await mesh.request("GET", f"{mesh.url('deadletter')}/metrics")
        return response.body.decode()

    assert 'hookmesh_dead_letters{reason="schema_invalid",status="pending"} 3.0' in await metric()
    first = (await listed(mesh))[-1]
    assert (await mesh.dlq("DELETE", f"/{first['id']}")).status == 200
    assert 'hookmesh_dead_letters{reason="schema_invalid",status="pending"} 2.0' in await metric()
