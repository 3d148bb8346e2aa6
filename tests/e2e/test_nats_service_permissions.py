"""Each service under its own NATS user (`hookmesh nats-auth`), as in the Kubernetes deployment: the whole
flow works — delivery, dedup, dry run, retries, dead letters, replay, discard — without a single
permission violation, and each user is refused what is not its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import nats
import nats.js.errors
import pytest

from shared import subjects
from shared.cli.natsauth import ADMIN_PASSWORD_ENV, password_env
from shared.embedded_nats import EmbeddedNats, free_port
from shared.natsperms import service_user
from shared.settings import SERVICES
from tests.support.cli import hookmesh
from tests.support.mesh import config_yaml
from tests.support.polling import eventually
from tests.support.processes import ServiceSet
from tests.support.sink import RecordingSink

PASSWORDS = {ADMIN_PASSWORD_ENV: "admin-pw", **{password_env(service_user(s)): f"{s}-pw" for s in SERVICES}}
RETRY = "{max_attempts: 2, initial: 100ms, max: 200ms}"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmbeddedNats]:
    for name, value in PASSWORDS.items():
        monkeypatch.setenv(name, value)  # nats-server reads the passwords from its environment
    nats_server = EmbeddedNats(tmp_path / "js", port=free_port(), extra_args=["-c", str(tmp_path / "auth.conf")],
                               log_file=tmp_path / "nats.log")
    yield nats_server
    nats_server.stop()


def violations(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if "Violation" in line]


class Client:
    """A plain nats-py connection as one user, recording the errors the server sends it."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.nc: Any = None

    async def connect(self, port: int, user: str, password: str, inbox: str) -> Client:
        async def on_error(exc: Exception) -> None:
            self.errors.append(str(exc))

        self.nc = await nats.connect(f"nats://127.0.0.1:{port}", user=user, password=password, inbox_prefix=inbox,
                                     error_cb=on_error, allow_reconnect=False)
        return self

    async def refused(self, what: str) -> bool:
        """Whether the server refused `what` (nats-py reports it lower-cased, through the error callback)."""
        await self.nc.flush()

        def seen() -> bool:
            return any("permissions violation" in e.lower() and what.lower() in e.lower() for e in self.errors)

        return bool(await eventually(seen, timeout=3, what=f"the server to refuse {what}"))


async def test_every_service_runs_on_its_own_user_and_nothing_else(
        server: EmbeddedNats, sink: RecordingSink, sink_secret: str, tmp_path: Path) -> None:
    config = tmp_path / "hookmesh.yaml"
    config.write_text(config_yaml(sink.url, retry=RETRY))
    generated = await hookmesh("nats-auth", "-f", str(config), "-o", str(tmp_path / "auth.conf"))
    assert generated.code == 0, generated.stderr
    server.start()
    url = f"nats://127.0.0.1:{server.port}"
    per_service = {s: {"NATS_USER": service_user(s), "NATS_PASSWORD": f"{s}-pw"} for s in SERVICES}
    services = ServiceSet(url, tmp_path, per_service=per_service)
    try:
        # As on Kubernetes, the services may start before the apply Job: they wait for the streams.
        for proc in services.procs.values():
            proc.spawn()
        await eventually(lambda: "hookmesh apply" in services.procs["routing"].output(), timeout=30,
                         what="routing to say it waits for `hookmesh apply`")
        applied = await hookmesh("apply", "-f", str(config),
                                 env={"NATS_URL": url, "NATS_USER": "hookmesh", "NATS_PASSWORD": "admin-pw"})
        assert applied.code == 0, applied.stderr
        for proc in services.procs.values():
            await proc.ready(timeout=45)
        await _run_the_flow(services, sink)
        await eventually(lambda: _last_event(url, "com.hookmesh.destination.disabled"), timeout=20,
                         what="delivery to announce the destination disabled by 410")
        logs = {name: proc.output() for name, proc in services.procs.items()}
    finally:
        services.stop()
    assert violations(server.log_file) == []
    assert not [name for name, text in logs.items() if "NATS refused" in text]
    assert not [name for name, text in logs.items() if any(pw in text for pw in PASSWORDS.values())]


async def _run_the_flow(services: ServiceSet, sink: RecordingSink) -> None:
    hooks, dlq = f"{services.url('ingress')}/v1/hooks/shop", f"{services.url('deadletter')}/v1/dead-letters"
    async with aiohttp.ClientSession() as http:
        async def post(body: dict[str, Any], key: str, query: str = "") -> tuple[int, Any]:
            async with http.post(hooks + query, json=body, headers={"Idempotency-Key": key}) as response:
                return response.status, await response.json(content_type=None)

        # delivered, then deduplicated (ingress reads the first copy back from its stream)
        status, first = await post({"order_id": "A-1", "total": 5}, "k1")
        assert status == 202
        await sink.wait_for(1)
        assert (await post({"order_id": "A-1", "total": 5}, "k1"))[1] == {"id": first["id"], "duplicate": True}
        # a dry run, answered by validation over request-reply
        status, verdict = await post({"order_id": "A-2", "total": 1}, "k2", "?dry_run=true")
        assert (status, verdict["valid"]) == (200, True)
        # schema_invalid: a dead letter; replayed with corrected data it is delivered
        status, bad = await post({"order_id": 7}, "k3")
        assert status == 202
        letter = await _letter(http, dlq, bad["id"])
        async with http.post(f"{dlq}/{letter['id']}/replay", json={"data": {"order_id": "A-3", "total": 3}}) as r:
            assert r.status == 202, await r.text()
        await sink.wait_for(2)
        # a failing destination: retried (attempts bucket), dead-lettered, replayed, delivered
        sink.script = [500, 500]
        status, failing = await post({"order_id": "A-4", "total": 4}, "k4")
        assert status == 202
        letter = await _letter(http, dlq, failing["id"])
        assert letter["reason"] == "delivery_exhausted", letter
        async with http.post(f"{dlq}/{letter['id']}/replay") as r:
            assert r.status == 202, await r.text()
        delivered = await sink.wait_for(3)
        assert delivered[-1].event["id"] == failing["id"]
        # discarding deletes the dead letter from its stream
        status, other = await post({"order_id": 8}, "k5")
        letter = await _letter(http, dlq, other["id"])
        async with http.delete(f"{dlq}/{letter['id']}") as r:
            assert r.status == 200, await r.text()
        # 410 Gone disables the destination and announces it as an operational event
        sink.script = [410]
        status, _ = await post({"order_id": "A-6", "total": 6}, "k6")
        assert status == 202
        await sink.wait_for(4, successes=False)


async def _last_event(url: str, event_type: str) -> bool:
    nc = await nats.connect(url, user="hookmesh", password="admin-pw")
    try:
        await nc.jetstream().get_last_msg(subjects.EVENTS_STREAM, subjects.events(event_type))
        return True
    except nats.js.errors.NotFoundError:
        return False
    finally:
        await nc.close()


async def _letter(http: aiohttp.ClientSession, dlq: str, event_id: str) -> dict[str, Any]:
    async def find() -> dict[str, Any] | None:
        async with http.get(f"{dlq}?limit=100") as response:
            items = (await response.json())["items"]
        return next((i for i in items if i["event_id"] == event_id), None)

    return await eventually(find, timeout=20, what=f"the dead letter of {event_id}")


async def test_each_service_user_is_refused_what_is_not_its_own(server: EmbeddedNats, tmp_path: Path) -> None:
    config = tmp_path / "hookmesh.yaml"
    config.write_text(config_yaml("http://127.0.0.1:9/hooks"))
    assert (await hookmesh("nats-auth", "-f", str(config), "-o", str(tmp_path / "auth.conf"))).code == 0
    server.start()
    url = f"nats://127.0.0.1:{server.port}"
    applied = await hookmesh("apply", "-f", str(config),
                             env={"NATS_URL": url, "NATS_USER": "hookmesh", "NATS_PASSWORD": "admin-pw"})
    assert applied.code == 0, applied.stderr

    async def client(service: str) -> Client:
        return await Client().connect(server.port, service_user(service), f"{service}-pw",
                                      f"_INBOX_hookmesh_{service}")

    admin = await nats.connect(url, user="hookmesh", password="admin-pw")
    await admin.jetstream().publish(subjects.dlq("validation", "shop"), b"{}", stream=subjects.DLQ_STREAM)
    ingress, validation, routing = await client("ingress"), await client("validation"), await client("routing")
    try:
        # ingress writes raw webhooks only: not validated events, not deliveries
        await ingress.nc.publish(subjects.events("com.acme.order.created"), b"{}")
        assert await ingress.refused('"hookmesh.events.com.acme.order.created"')
        # nobody but its owner hears a reply: the shared inbox namespace is closed
        await ingress.nc.subscribe("_INBOX.>")
        assert await ingress.refused('"_INBOX.>"')
        await ingress.nc.subscribe("_INBOX_hookmesh_validation.>")
        assert await ingress.refused('"_INBOX_hookmesh_validation.>"')
        # no stream may be purged, created or deleted by a service
        js = ingress.nc.jetstream(timeout=1)
        with pytest.raises(nats.errors.TimeoutError):
            await js.purge_stream(subjects.DLQ_STREAM)
        assert await ingress.refused(f'"$JS.API.STREAM.PURGE.{subjects.DLQ_STREAM}"')
        # validation cannot skip routing; routing cannot read dead letters or take over validation's durable
        await validation.nc.publish(subjects.deliver("sink"), b"{}")
        assert await validation.refused('"hookmesh.deliver.sink"')
        rjs = routing.nc.jetstream(timeout=1)
        with pytest.raises(nats.errors.TimeoutError):
            await rjs.get_msg(subjects.DLQ_STREAM, 1)
        assert await routing.refused(f'"$JS.API.STREAM.MSG.GET.{subjects.DLQ_STREAM}"')
        with pytest.raises(nats.errors.TimeoutError):
            await rjs.consumer_info(subjects.INGRESS_STREAM, subjects.VALIDATION_CONSUMER)
        assert await routing.refused(f"CONSUMER.INFO.{subjects.INGRESS_STREAM}")
        # and what is theirs works: validation may read its own durable
        info = await validation.nc.jetstream(timeout=2).stream_info(subjects.INGRESS_STREAM)
        assert info.config.name == subjects.INGRESS_STREAM
        # the dead letter the purge went after is still there
        assert (await admin.jetstream().stream_info(subjects.DLQ_STREAM)).state.messages == 1
    finally:
        for c in (ingress, validation, routing):
            await c.nc.close()
        await admin.close()
