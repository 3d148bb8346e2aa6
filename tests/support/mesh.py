"""The five services in this process, against a real nats-server, with helpers to drive them."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import aiohttp
import msgspec
from nats.aio.client import Client as NATS

from shared import nats_runtime, subjects
from shared.cli.runner import load_service
from shared.config import parse_config
from shared.configstore import Plan, apply_config
from shared.embedded_nats import free_port
from shared.servicehost import ServiceHost
from shared.settings import SERVICES, Settings
from shared.streams import ensure_streams


@dataclasses.dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return msgspec.json.decode(self.body)


class Mesh:
    def __init__(self, nats_url: str, *, services: tuple[str, ...] = SERVICES, **overrides: Any) -> None:
        self.settings = Settings(nats_url=nats_url, host="127.0.0.1",
                                 ports={s: free_port() for s in SERVICES}, drain_grace=3.0, **overrides)
        self.service_names = services
        self.hosts: dict[str, ServiceHost] = {}
        self.nc: NATS | None = None
        self.http: aiohttp.ClientSession | None = None

    async def connect(self) -> NATS:
        if self.nc is None:
            self.nc = await nats_runtime.connect(self.settings.nats_url, "tests")
            await ensure_streams(self.nc.jetstream())
        return self.nc

    async def apply(self, text: str, *, prune: bool = False) -> Plan:
        nc = await self.connect()
        return await apply_config(nc.jetstream(), parse_config(text, file="test.yaml"), prune=prune)

    async def start(self) -> Mesh:
        await self.connect()  # as an operator's `hookmesh apply` would: the services wait for the streams
        self.http = aiohttp.ClientSession()
        for name in self.service_names:
            self.hosts[name] = ServiceHost(load_service(name), self.settings, admin_api=name == "deadletter")
        await asyncio.gather(*(h.start() for h in self.hosts.values()))
        return self

    async def stop(self) -> None:
        await asyncio.gather(*(h.stop(grace=2.0) for h in self.hosts.values()), return_exceptions=True)
        if self.http:
            await self.http.close()
        if self.nc and not self.nc.is_closed:
            await self.nc.close()

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.hosts[service].port if service in self.hosts else self.settings.ports[service]}"

    async def request(self, method: str, url: str, *, json: Any = None, data: bytes | None = None,
                      headers: dict[str, str] | None = None) -> Response:
        assert self.http is not None
        hdrs = dict(headers or {})
        if json is not None:
            data = msgspec.json.encode(json)
            hdrs.setdefault("Content-Type", "application/json")
        async with self.http.request(method, url, data=data, headers=hdrs) as resp:
            return Response(resp.status, dict(resp.headers), await resp.read())

    async def post(self, source: str, json: Any = None, **kwargs: Any) -> Response:
        return await self.request("POST", f"{self.url('ingress')}/v1/hooks/{source}", json=json, **kwargs)

    async def dlq(self, method: str, path: str = "", **kwargs: Any) -> Response:
        return await self.request(method, f"{self.url('deadletter')}/v1/dead-letters{path}", **kwargs)

    async def stream_messages(self, stream: str) -> int:
        nc = await self.connect()
        info = await nc.jetstream().stream_info(stream)
        return int(info.state.messages)

    async def consumer_idle(self, stream: str, durable: str) -> bool:
        """True when the consumer has nothing pending and nothing waiting for an ack."""
        nc = await self.connect()
        info = await nc.jetstream().consumer_info(stream, durable)
        return info.num_pending == 0 and info.num_ack_pending == 0

    async def delivery_idle(self, destination: str) -> bool:
        return await self.consumer_idle(subjects.DELIVER_STREAM, subjects.delivery_consumer(destination))


def config_yaml(sink_url: str, *, secret_env: str = "TEST_SINK_SECRET", retry: str = "{max_attempts: 3, "
                "initial: 100ms, max: 1s}", source_extra: str = "", schema_required: str = "[order_id, total]") -> str:
    """A small configuration: source `shop`, schema com.acme.order.created v1, destination `sink`."""
    return f"""
sources:
  - name: shop
    event_type: com.acme.order.created
    schema_version: 1
    dedup_key: header:Idempotency-Key
    unroutable: deadletter
{source_extra}
schemas:
  - type: com.acme.order.created
    version: 1
    schema:
      $schema: https://json-schema.org/draft/2020-12/schema
      type: object
      required: {schema_required}
      properties:
        order_id: {{type: string}}
        total: {{type: number, minimum: 0}}
destinations:
  - name: sink
    url: {sink_url}
    secret_env: {secret_env}
    timeout: 2s
    retry: {retry}
    allow_private_network: true
routes:
  - name: orders
    match: {{type: [com.acme.order.created]}}
    to: [sink]
"""
