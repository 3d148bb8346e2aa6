"""deploy/compose/demo_consumer.py: the compose demo destination accepts what delivery signs."""

from __future__ import annotations

import base64
import json

from aiohttp.test_utils import TestClient, TestServer
from deploy_facts import DEPLOY, REPO, compose, load_module, service_env
from opentelemetry.trace import NoOpTracer

from services.delivery.sender import Sender
from shared.config import load_config

demo_consumer = load_module(DEPLOY / "compose" / "demo_consumer.py", "hookmesh_demo_consumer")


def event() -> bytes:
    return json.dumps({"specversion": "1.0", "id": "evt-1", "source": "/hookmesh/sources/demo",
                       "type": "com.example.order.created", "data": {"order_id": "A-1", "total": 1}}).encode()


async def test_accepts_what_delivery_signs_with_the_compose_secret() -> None:
    services = compose()["services"]
    destination = load_config(REPO / "deploy" / "compose" / "hookmesh.yaml").destinations[0]
    delivery_secret = service_env(services["delivery"])[destination.secret_env]
    consumer_secret = service_env(services["demo-consumer"])[destination.secret_env]
    sender = Sender(destination, delivery_secret, NoOpTracer())
    try:
        headers = sender.headers("evt-1", event())
    finally:
        await sender.close()
    async with TestClient(TestServer(demo_consumer.make_app(consumer_secret))) as client:
        assert (await client.get("/healthz")).status == 200
        assert (await client.post("/hooks", data=event(), headers=headers)).status == 204
        forged = dict(headers, **{"webhook-signature": "v1," + base64.b64encode(b"x" * 32).decode()})
        assert (await client.post("/hooks", data=event(), headers=forged)).status == 401


def test_the_compose_signing_secret_is_whsec_base64() -> None:
    secret = service_env(compose()["services"]["delivery"])["HOOKMESH_DEMO_SECRET"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) >= 24


def test_listens_on_the_port_compose_configures() -> None:
    env = service_env(compose()["services"]["demo-consumer"])
    assert int(env[demo_consumer.PORT_ENV]) == demo_consumer.DEFAULT_PORT
