"""Garbage published straight onto hookmesh.ingress.* / hookmesh.events.* / hookmesh.deliver.* (not an
envelope, the wrong specversion, not UTF-8, huge headers) is dead-lettered as `malformed_envelope` by the
stage that read it, and every service keeps working: a good event sent afterwards is delivered."""

from __future__ import annotations

import pytest

from shared import subjects
from tests.support.mesh import Mesh, config_yaml
from tests.support.polling import eventually
from tests.support.sink import RecordingSink

pytestmark = pytest.mark.e2e

HUGE = {"X-Padding": "h" * 60_000}
GARBAGE: list[tuple[bytes, dict[str, str] | None]] = [
    (b"not json at all", None),
    (b"", None),
    (b"\xff\xfe\x00garbage", None),
    (b"[1, 2, 3]", None),
    (b'{"specversion": "0.3", "id": "x", "source": "/s", "type": "t"}', None),
    (b'{"specversion": "1.0", "id": "", "source": "/s", "type": "t"}', None),
    (b'{"specversion": "1.0", "id": 7, "source": "/s", "type": "t"}', None),
    (b'{"specversion": "1.0"}', HUGE),
    (b'{"specversion": "1.0", "id": "x", "source": "/s", "type": "t", "data": {"a": ' + b"[" * 5000, None),
]
STAGES = {"validation": subjects.ingress("shop"), "routing": subjects.events("com.acme.order.created"),
          "delivery": subjects.deliver("sink")}


async def malformed(mesh: Mesh, stage: str) -> list[dict[str, object]]:
    response = await mesh.dlq("GET", f"?reason=malformed_envelope&stage={stage}&limit=500")
    assert response.status == 200, response.body
    return list(response.json["items"])


async def test_garbage_on_every_stage_subject_is_dead_lettered_and_services_keep_running(
        mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str) -> None:
    mesh = mesh_factory()
    await mesh.apply(config_yaml(sink.url))
    await mesh.start()
    js = (await mesh.connect()).jetstream()
    stream_of = {"validation": subjects.INGRESS_STREAM, "routing": subjects.EVENTS_STREAM,
                 "delivery": subjects.DELIVER_STREAM}
    for stage, subject in STAGES.items():
        for i, (body, headers) in enumerate(GARBAGE):
            ack = await js.publish(subject, body, stream=stream_of[stage],
                                   headers={"Nats-Msg-Id": f"garbage-{stage}-{i}", **(headers or {})})
            assert not ack.duplicate

    for stage in STAGES:
        letters = await eventually(lambda s=stage: _all(mesh, s), timeout=20, what=f"{stage}'s dead letters")
        assert len(letters) == len(GARBAGE), [str(x["error"])[:80] for x in letters]
        assert {x["event_id"] for x in letters} == {f"garbage-{stage}-{i}" for i in range(len(GARBAGE))}
        assert all(x["error"] for x in letters)

    # Still running, and still doing its job.
    answer = await mesh.post("shop", {"order_id": "after-garbage", "total": 1})
    assert answer.status == 202, answer.body
    received = await sink.wait_for(1)
    assert received[0].headers["webhook-id"] == answer.json["id"]
    for name in mesh.hosts:
        ready = await mesh.request("GET", f"{mesh.url(name)}/readyz")
        assert ready.status == 200, (name, ready.body)


async def _all(mesh: Mesh, stage: str) -> list[dict[str, object]] | None:
    letters = await malformed(mesh, stage)
    return letters if len(letters) >= len(GARBAGE) else None
