"""Dead letters: schema violations and exhausted deliveries are kept with their evidence, then replayed."""

from __future__ import annotations

import pytest

from shared import subjects
from tests.support.mesh import Mesh, config_yaml
from tests.support.polling import eventually
from tests.support.sink import RecordingSink

ORDER = {"order_id": "A-1001", "total": 42.5}


async def _single_dead_letter(mesh: Mesh, **filters: str) -> dict:
    async def probe() -> list:
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        response = await mesh.dlq("GET", f"?{query}")
        assert response.status == 200, response.body
        return response.json["items"]

    [item] = await eventually(probe, what=f"a dead letter matching {filters}")
    return item


async def test_schema_invalid_then_fixed_schema_and_replay_delivers(
        mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str) -> None:
    mesh = mesh_factory()
    await mesh.apply(config_yaml(sink.url, schema_required="[order_id, total, customer]"))
    await mesh.start()
    bad = {"order_id": 7, "total": -1}
    response = await mesh.post("shop", bad)
    assert response.status == 202  # accepted means stored; the contract is checked downstream
    event_id = response.json["id"]

    letter = await _single_dead_letter(mesh, reason="schema_invalid")
    assert letter["event_id"] == event_id
    assert letter["stage"] == "validation"
    assert letter["source"] == "shop"
    assert letter["status"] == "pending"
    assert letter["event"]["data"] == bad
    assert letter["trace_id"]
    errors = {(e["pointer"], e["keyword"]) for e in letter["details"]["errors"]}
    assert errors == {("", "required"), ("/order_id", "type"), ("/total", "minimum")}
    shown = await mesh.dlq("GET", f"/{letter['id']}")
    assert shown.status == 200 and shown.json["id"] == letter["id"]

    # The data is what the business sends. Versions are immutable: register a looser v2 (backward
    # compatible with v1), point the source at it, then replay; a replay is judged by the version
    # the source declares now.
    original = config_yaml(sink.url, schema_required="[order_id, total, customer]")
    v2 = """  - type: com.acme.order.created
    version: 2
    schema:
      type: object
      properties:
        order_id: {type: [string, integer]}
        total: {type: number}
"""
    fixed = original.replace("schema_version: 1", "schema_version: 2").replace("destinations:", v2 + "destinations:")
    await mesh.apply(fixed)
    replayed = await mesh.dlq("POST", f"/{letter['id']}/replay")
    assert replayed.status == 202, replayed.body
    assert replayed.json["replay_subject"] == "hookmesh.ingress.shop"

    [received] = await sink.wait_for(1)
    assert received.headers["webhook-id"] == event_id
    assert received.event["data"] == bad
    assert received.event["dataschema"] == "hookmesh://schemas/com.acme.order.created/v2"

    again = await mesh.dlq("POST", f"/{letter['id']}/replay")
    assert again.status == 200 and again.json["already_replayed"] is True
    assert await mesh.stream_messages(subjects.INGRESS_STREAM) == 2  # the original and one replay
    await eventually(lambda: mesh.delivery_idle("sink"), what="delivery to go idle")
    assert len(sink.received) == 1
    listed = await mesh.dlq("GET", "?status=replayed")
    assert [i["id"] for i in listed.json["items"]] == [letter["id"]]


async def test_failing_destination_retries_with_growing_backoff_then_dead_letters_then_replays_once(
        mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str) -> None:
    sink.default_status = 503
    mesh = mesh_factory()
    await mesh.apply(config_yaml(sink.url, retry="{max_attempts: 4, initial: 100ms, max: 2s}"))
    await mesh.start()
    event_id = (await mesh.post("shop", ORDER)).json["id"]

    letter = await _single_dead_letter(mesh, reason="delivery_exhausted")
    attempts = sink.received
    assert [r.status for r in attempts] == [503, 503, 503, 503]
    assert {r.headers["webhook-id"] for r in attempts} == {event_id}
    assert letter["stage"] == "delivery" and letter["destination"] == "sink"
    assert letter["attempts"] == 4
    history = letter["history"]
    assert [h["attempt"] for h in history] == [1, 2, 3, 4]
    assert all(h["status"] == 503 and "failing with 503" in h["excerpt"] for h in history)
    caps = [h["backoff_cap_s"] for h in history[:-1]]
    assert caps == [0.1, 0.2, 0.4]  # exponential; each delay is drawn in [0, cap] (full jitter)
    assert all(0 <= h["next_delay_s"] <= h["backoff_cap_s"] for h in history[:-1])
    assert "next_delay_s" not in history[-1]
    assert letter["details"]["status"] == 503

    sink.default_status = 204
    replayed = await mesh.dlq("POST", f"/{letter['id']}/replay")
    assert replayed.status == 202
    await sink.wait_for(1)
    await eventually(lambda: mesh.delivery_idle("sink"), what="delivery to go idle")
    assert [r.status for r in sink.received] == [503, 503, 503, 503, 204]
    assert sink.received[-1].headers["webhook-id"] == event_id


async def test_non_retryable_status_dead_letters_at_once(
        mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str) -> None:
    sink.default_status = 422
    mesh = mesh_factory()
    await mesh.apply(config_yaml(sink.url))
    await mesh.start()
    await mesh.post("shop", ORDER)
    letter = await _single_dead_letter(mesh, reason="non_retryable_status")
    assert letter["attempts"] == 1
    assert len(sink.received) == 1


async def test_unroutable_event_is_dead_lettered_when_the_source_says_so(
        mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str) -> None:
    mesh = mesh_factory()
    await mesh.apply(config_yaml(sink.url).replace("match: {type: [com.acme.order.created]}",
                                                   "match: {type: [com.acme.order.shipped]}"))
    await mesh.start()
    event_id = (await mesh.post("shop", ORDER)).json["id"]
    letter = await _single_dead_letter(mesh, reason="unroutable")
    assert letter["event_id"] == event_id and letter["stage"] == "routing"


async def test_admin_api_requires_the_token_when_set(
        mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str) -> None:
    mesh = mesh_factory(admin_token="adm1n-t0ken")
    await mesh.apply(config_yaml(sink.url))
    await mesh.start()
    refused = await mesh.dlq("GET")
    assert refused.status == 401
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert (await mesh.dlq("GET", headers={"Authorization": "Bearer wrong"})).status == 401
    allowed = await mesh.dlq("GET", headers={"Authorization": "Bearer adm1n-t0ken"})
    assert allowed.status == 200 and allowed.json == {"items": [], "next": None}
    assert (await mesh.request("GET", f"{mesh.url('deadletter')}/healthz")).status == 200


@pytest.mark.parametrize("count", [7])
async def test_dead_letter_list_pages_with_a_cursor(
        mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str, count: int) -> None:
    mesh = mesh_factory()
    await mesh.apply(config_yaml(sink.url))
    await mesh.start()
    ids = [(await mesh.post("shop", {"order_id": i})).json["id"] for i in range(count)]

    async def all_there() -> bool:
        return len((await mesh.dlq("GET", "?limit=100")).json["items"]) == count

    await eventually(all_there, what=f"{count} dead letters")
    seen, cursor = [], None
    while True:
        page = (await mesh.dlq("GET", "?limit=3" + (f"&cursor={cursor}" if cursor else ""))).json
        seen += [i["event_id"] for i in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == count
