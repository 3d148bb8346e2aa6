"""An event posted to ingress reaches a real HTTP destination: signed, deduplicated, in one trace."""

from __future__ import annotations

import pytest
import standardwebhooks
from opentelemetry.trace import SpanKind

from shared import subjects
from tests.support.mesh import Mesh, config_yaml
from tests.support.sink import RecordingSink
from tests.support.spans import SpanRecorder, parent_of, service_of

ORDER = {"order_id": "A-1001", "total": 42.5}


async def test_event_reaches_destination_signed_with_its_id_and_trace(
        mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str, spans: SpanRecorder) -> None:
    mesh = mesh_factory()
    await mesh.apply(config_yaml(sink.url))
    await mesh.start()

    response = await mesh.post("shop", ORDER)
    assert response.status == 202, response.body
    event_id = response.json["id"]

    [received] = await sink.wait_for(1)
    assert received.headers["Content-Type"] == "application/cloudevents+json"
    assert received.headers["webhook-id"] == event_id
    standardwebhooks.Webhook(sink_secret).verify(received.body, received.headers)  # raises if the signature is bad
    event = received.event
    assert event["id"] == event_id
    assert event["specversion"] == "1.0"
    assert event["type"] == "com.acme.order.created"
    assert event["source"] == "/hookmesh/sources/shop"
    assert event["dataschema"] == "hookmesh://schemas/com.acme.order.created/v1"
    assert event["data"] == ORDER

    [server_span] = spans.named("POST /v1/hooks/{source}")
    trace_id = f"{server_span.context.trace_id:032x}"
    assert received.headers["traceparent"].split("-")[1] == trace_id
    assert event["traceparent"].split("-")[1] == trace_id


async def test_one_trace_links_every_hop(mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str,
                                         spans: SpanRecorder) -> None:
    mesh = mesh_factory()
    await mesh.apply(config_yaml(sink.url))
    await mesh.start()
    assert (await mesh.post("shop", ORDER)).status == 202
    await sink.wait_for(1)

    [server_span] = spans.named("POST /v1/hooks/{source}")
    trace = spans.trace_of(server_span)
    # Walk up from the delivery's HTTP client span: every hop must be its ancestor, in order.
    [client] = [s for s in trace if s.kind == SpanKind.CLIENT]
    chain = []
    node = client
    while node is not None:
        chain.append((service_of(node), node.name, node.kind))
        node = parent_of(node, trace)
    assert list(reversed(chain)) == [
        ("hookmesh-ingress", "POST /v1/hooks/{source}", SpanKind.SERVER),
        ("hookmesh-ingress", "send hookmesh.ingress.shop", SpanKind.PRODUCER),
        ("hookmesh-validation", "process hookmesh.ingress.shop", SpanKind.CONSUMER),
        ("hookmesh-validation", "send hookmesh.events.com.acme.order.created", SpanKind.PRODUCER),
        ("hookmesh-routing", "process hookmesh.events.com.acme.order.created", SpanKind.CONSUMER),
        ("hookmesh-routing", "send hookmesh.deliver.sink", SpanKind.PRODUCER),
        ("hookmesh-delivery", "process hookmesh.deliver.sink", SpanKind.CONSUMER),
        ("hookmesh-delivery", "POST", SpanKind.CLIENT),
    ]
    process = next(s for s in trace if s.name == "process hookmesh.deliver.sink")
    assert process.attributes is not None
    assert process.attributes["messaging.system"] == "nats"
    assert process.attributes["messaging.consumer.group.name"] == "delivery_sink"
    assert process.attributes["messaging.destination.name"] == "hookmesh.deliver.sink"


async def test_repeated_dedup_key_answers_first_id_and_publishes_nothing(
        mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str) -> None:
    mesh = mesh_factory()
    await mesh.apply(config_yaml(sink.url))
    await mesh.start()
    first = await mesh.post("shop", ORDER, headers={"Idempotency-Key": "zap-run-77"})
    again = await mesh.post("shop", {**ORDER, "total": 99}, headers={"Idempotency-Key": "zap-run-77"})
    other = await mesh.post("shop", ORDER, headers={"Idempotency-Key": "zap-run-78"})
    assert first.status == again.status == other.status == 202
    assert again.json == {"id": first.json["id"], "duplicate": True}
    assert other.json["id"] != first.json["id"]
    assert await mesh.stream_messages(subjects.INGRESS_STREAM) == 2
    received = await sink.wait_for(2)
    assert sorted(r.headers["webhook-id"] for r in received) == sorted([first.json["id"], other.json["id"]])


async def test_refusals_are_problem_json(mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_TOKEN", "s3cret-token-value")
    guarded = ("  - name: guarded\n    event_type: com.acme.order.created\n"
               "    auth: {type: bearer, token_env: SHOP_TOKEN}\n")
    mesh = mesh_factory(max_body_bytes=2048)
    await mesh.apply(config_yaml(sink.url).replace("sources:\n", "sources:\n" + guarded))
    await mesh.start()
    json_type = {"Content-Type": "application/json"}
    cases = [
        (await mesh.post("nope", ORDER), 404),
        (await mesh.post("shop", data=b"{not json", headers=json_type), 400),
        (await mesh.post("shop", data=b"order=1", headers={"Content-Type": "text/plain"}), 415),
        (await mesh.post("shop", data=b"{}", headers={"Content-Type": "application/json; charset=latin-1"}), 415),
        (await mesh.post("shop", data=b'{"x": "' + b"a" * 4096 + b'"}', headers=json_type), 413),
        (await mesh.post("guarded", ORDER), 401),
        (await mesh.post("guarded", ORDER, headers={"Authorization": "Bearer wrong"}), 401),
    ]
    for response, status in cases:
        assert response.status == status, (status, response.body)
        assert response.headers["Content-Type"].startswith("application/problem+json")
        problem = response.json
        assert problem["status"] == status
        assert problem["title"] and problem["detail"]
        assert "s3cret-token-value" not in response.body.decode()
    assert await mesh.stream_messages(subjects.INGRESS_STREAM) == 0
    ok = await mesh.post("guarded", ORDER, headers={"Authorization": "Bearer s3cret-token-value"})
    assert ok.status == 202
    assert await mesh.stream_messages(subjects.INGRESS_STREAM) == 1
