"""The `hookmesh` command, run as a user runs it."""

from __future__ import annotations

import signal
from pathlib import Path

import aiohttp
import msgspec

from shared.embedded_nats import free_port, port_open
from shared.settings import SERVICES, port_env
from tests.support.cli import Running, hookmesh
from tests.support.mesh import Mesh, config_yaml
from tests.support.natsserver import NatsServer
from tests.support.polling import eventually
from tests.support.sink import RecordingSink

README_BODY = {"order_id": "A-1001", "total": 42.5, "currency": "EUR"}


async def test_up_runs_the_demo_end_to_end_and_drains_on_sigterm(tmp_path: Path) -> None:
    ports = {s: free_port() for s in SERVICES}
    nats_port, sink_port = free_port(), free_port()
    env = {port_env(s): str(p) for s, p in ports.items()} | {"HOOKMESH_LOG_FORMAT": "human"}
    args = ("up", "--data-dir", str(tmp_path / "store"), "--nats-port", str(nats_port),
            "--demo-sink-port", str(sink_port))
    up = await Running.start(*args, env=env, cwd=tmp_path)
    try:
        await up.wait_for_line("hookmesh is up")
        assert f"http://127.0.0.1:{ports['ingress']}/v1/hooks/{{source}}" in up.output
        assert "sync_interval 1s" in up.output
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{ports['ingress']}/v1/hooks/demo"
            async with http.post(url, json=README_BODY) as resp:
                assert resp.status == 202
                event_id = (await resp.json())["id"]
            line = await up.wait_for_line("received com.example.order.created")
            assert event_id in line and "signature=verified" in line and "trace=" in line
            for service, port in ports.items():
                async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
                    assert resp.status == 200, service
        up.process.send_signal(signal.SIGTERM)
        assert await up.wait(timeout=30) == 0
        assert "hookmesh stopped" in up.output
        assert not port_open("127.0.0.1", nats_port), "the embedded nats-server outlived hookmesh up"
    finally:
        up.kill()

    again = await Running.start(*args, env=env, cwd=tmp_path)
    try:
        await again.wait_for_line("hookmesh is up")
        assert "0 created, 0 updated, 5 unchanged" in again.output  # provisioning is idempotent
        again.process.send_signal(signal.SIGINT)
        assert await again.wait(timeout=30) == 0
    finally:
        again.kill()


async def test_apply_get_and_precise_config_errors(nats_server: NatsServer, tmp_path: Path) -> None:
    env = {"NATS_URL": nats_server.url}
    good = tmp_path / "hookmesh.yaml"
    good.write_text(config_yaml("http://127.0.0.1:9/hooks"))
    first = await hookmesh("apply", "-f", str(good), env=env)
    assert first.code == 0, first.stderr
    assert "create  sources.shop" in first.stdout and "destinations.sink" in first.stdout
    second = await hookmesh("apply", "-f", str(good), env=env)
    assert second.code == 0 and "create 0, update 0, delete 0; 4 unchanged" in second.stderr

    listed = await hookmesh("get", "sources", env=env)
    assert listed.code == 0 and listed.stdout.startswith("shop ")
    as_json = await hookmesh("get", "destinations", "-o", "json", env=env)
    [destination] = msgspec.json.decode(as_json.stdout)
    assert destination["retry"] == {"max_attempts": 3, "initial": "100ms", "max": "1s"}

    bad = tmp_path / "bad.yaml"
    typo = "    schema_version: 1\n    auth: {type: bearr}\n"
    bad.write_text(good.read_text().replace("    schema_version: 1\n", typo))
    failed = await hookmesh("apply", "-f", str(bad), env=env)
    assert failed.code == 2
    assert f"{bad}: sources[0].auth.type (line 6): Invalid enum value 'bearr'" in failed.stderr

    unreachable = await hookmesh("get", "routes", env={"NATS_URL": f"nats://127.0.0.1:{free_port()}"})
    assert unreachable.code != 0 and "cannot reach NATS" in unreachable.stderr


async def test_send_and_dlq_commands(mesh_factory: type[Mesh], sink: RecordingSink, sink_secret: str) -> None:
    mesh = mesh_factory()
    await mesh.apply(config_yaml(sink.url))
    await mesh.start()
    env = {"HOOKMESH_INGRESS_URL": mesh.url("ingress"), "HOOKMESH_DEADLETTER_URL": mesh.url("deadletter")}

    sent = await hookmesh("send", "shop", '{"order_id": "A-1", "total": 5}', env=env)
    assert sent.code == 0, sent.stderr
    event_id = msgspec.json.decode(sent.stdout)["id"]
    [received] = await sink.wait_for(1)
    assert received.headers["webhook-id"] == event_id

    refused = await hookmesh("send", "nope", "{}", env=env)
    assert refused.code == 1 and "HTTP 404" in refused.stderr and "no source named 'nope'" in refused.stderr

    invalid = await hookmesh("send", "shop", "-", env=env, stdin=b'{"order_id": 1}')
    assert invalid.code == 0
    invalid_id = msgspec.json.decode(invalid.stdout)["id"]

    async def letter_id() -> str | None:
        result = await hookmesh("dlq", "list", "--reason", "schema_invalid", "-o", "json", env=env)
        items = msgspec.json.decode(result.stdout)
        return items[0]["id"] if items else None

    dead_letter = await eventually(letter_id, what="the dead letter to be listed")
    table = await hookmesh("dlq", "list", env=env)
    assert dead_letter in table.stdout and "schema_invalid" in table.stdout and "pending" in table.stdout
    shown = await hookmesh("dlq", "show", dead_letter, env=env)
    assert msgspec.json.decode(shown.stdout)["event_id"] == invalid_id
    replayed = await hookmesh("dlq", "replay", dead_letter, env=env)
    assert replayed.code == 0 and f"replayed {dead_letter}" in replayed.stdout
    twice = await hookmesh("dlq", "replay", dead_letter, env=env)
    assert twice.code == 0 and "already replayed" in twice.stdout
    missing = await hookmesh("dlq", "show", "no-such-id", env=env)
    assert missing.code == 1 and "HTTP 404" in missing.stderr
