"""docs/openapi/deadletter.yaml is true: its routes are the service's routes, every documented status code is
answered by the running service, nothing undocumented is, and every JSON body matches its schema."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema_rs
import msgspec
import yaml

from shared.cli.runner import load_service
from shared.embedded_nats import free_port
from shared.servicehost import ServiceHost
from shared.settings import SERVICES, Settings
from tests.support.deadletters import post_bad_orders, wait_for_letters
from tests.support.mesh import Mesh, config_yaml
from tests.support.polling import eventually
from tests.support.sink import RecordingSink

DOC = yaml.safe_load((Path(__file__).parents[2] / "docs" / "openapi" / "deadletter.yaml").read_text())
METHODS = {"get", "post", "delete", "put", "patch"}
TOKEN = "0pen-api-t0ken"


def _template(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def _resolve(node: Any) -> Any:
    """The node with every local $ref replaced by what it points to (the document has no cycles)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = DOC
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return _resolve(target)
        return {k: _resolve(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v) for v in node]
    return node


def _check_body(path: str, op: str, status: int, content_type: str, body: bytes) -> None:
    response = _resolve(DOC["paths"][path][op]["responses"][str(status)])
    media = content_type.split(";")[0].strip()
    assert media in response["content"], (path, op, status, media)
    schema = response["content"][media]["schema"]
    if media == "application/x-ndjson":
        values = [msgspec.json.decode(line) for line in body.splitlines() if line.strip()]
    elif media.endswith("json"):
        values = [msgspec.json.decode(body)]
    else:
        return
    validator = jsonschema_rs.validator_for(schema)
    for value in values:
        errors = [e.message for e in validator.iter_errors(value)]
        assert not errors, (path, op, status, errors, value)


async def test_document_matches_the_running_service(mesh_factory: type[Mesh], sink: RecordingSink,
                                                    sink_secret: str) -> None:
    assert DOC["openapi"].startswith("3.1")
    sink.default_status = 422
    mesh = mesh_factory(admin_token=TOKEN)
    await mesh.apply(config_yaml(sink.url))
    await mesh.start()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    app = mesh.hosts["deadletter"]._runner.app  # type: ignore[union-attr]
    app_routes = {(r.method.lower(), _template(r.resource.canonical)) for r in app.router.routes()
                  if r.method != "HEAD" and r.resource is not None}
    doc_routes = {(m, _template(p)) for p, ops in DOC["paths"].items() for m in ops if m in METHODS}
    assert app_routes == doc_routes

    await post_bad_orders(mesh, 3)
    await mesh.post("shop", {"order_id": "A-1", "total": 1})
    letters = await wait_for_letters(mesh, 4, **auth)
    invalid = [i["id"] for i in letters if i["stage"] == "validation"]
    delivery = next(i["id"] for i in letters if i["stage"] == "delivery")
    base = mesh.url("deadletter")
    dl = f"{base}/v1/dead-letters"
    ndjson = {**auth, "Accept": "application/x-ndjson"}
    calls: list[tuple[str, str, str, str, bytes | None, dict[str, str]]] = [
        ("/v1/dead-letters", "get", "GET", f"{dl}?stage=validation&limit=2", None, auth),
        ("/v1/dead-letters", "get", "GET", f"{dl}?cursor=x", None, auth),
        ("/v1/dead-letters", "get", "GET", dl, None, {}),
        ("/v1/dead-letters/{id}", "get", "GET", f"{dl}/{invalid[0]}", None, auth),
        ("/v1/dead-letters/{id}", "get", "GET", f"{dl}/nope", None, auth),
        ("/v1/dead-letters/{id}", "get", "GET", f"{dl}/{invalid[0]}", None, {}),
        ("/v1/dead-letters/{id}/replay", "post", "POST", f"{dl}/{invalid[0]}/replay", b"{", auth),
        ("/v1/dead-letters/{id}/replay", "post", "POST", f"{dl}/{invalid[0]}/replay", b'{"destination": "sink"}',
         auth),
        ("/v1/dead-letters/{id}/replay", "post", "POST", f"{dl}/{invalid[0]}/replay", None, auth),
        ("/v1/dead-letters/{id}/replay", "post", "POST", f"{dl}/{invalid[0]}/replay", None, auth),
        ("/v1/dead-letters/{id}/replay", "post", "POST", f"{dl}/{invalid[0]}/replay", b'{"data": {}}', auth),
        ("/v1/dead-letters/{id}/replay", "post", "POST", f"{dl}/nope/replay", None, auth),
        ("/v1/dead-letters/{id}/replay", "post", "POST", f"{dl}/nope/replay", None, {}),
        ("/v1/dead-letters/replay", "post", "POST", f"{dl}/replay", b'{"stage": "validation"}', ndjson),
        ("/v1/dead-letters/replay", "post", "POST", f"{dl}/replay", b'{"stage": "delivery"}', auth),
        ("/v1/dead-letters/replay", "post", "POST", f"{dl}/replay", b'{"stag": "delivery"}', auth),
        ("/v1/dead-letters/replay", "post", "POST", f"{dl}/replay", None, {}),
        ("/v1/dead-letters/{id}", "delete", "DELETE", f"{dl}/{delivery}", None, auth),
        ("/v1/dead-letters/{id}", "delete", "DELETE", f"{dl}/{delivery}", None, auth),
        ("/v1/dead-letters/{id}", "delete", "DELETE", f"{dl}/{delivery}", None, {}),
        ("/healthz", "get", "GET", f"{base}/healthz", None, {}),
        ("/readyz", "get", "GET", f"{base}/readyz", None, {}),
        ("/metrics", "get", "GET", f"{base}/metrics", None, {}),
    ]
    seen: dict[tuple[str, str], set[str]] = {}
    for path, op, method, url, body, headers in calls:
        response = await mesh.request(method, url, data=body, headers=headers)
        assert str(response.status) in DOC["paths"][path][op]["responses"], (method, url, response.status,
                                                                              response.body)
        _check_body(path, op, response.status, response.headers["Content-Type"], response.body)
        seen.setdefault((path, op), set()).add(str(response.status))
    seen[("/readyz", "get")].add(await _readyz_without_nats())
    for path, ops in DOC["paths"].items():
        for op, spec in ops.items():
            if op in METHODS:
                assert set(spec["responses"]) == seen.get((path, op), set()), (op, path)


async def _readyz_without_nats() -> str:
    """A deadletter service whose NATS is unreachable answers /readyz with 503 and its checks."""
    settings = Settings(nats_url=f"nats://127.0.0.1:{free_port()}", ports={s: free_port() for s in SERVICES})
    host = ServiceHost(load_service("deadletter"), settings, admin_api=True)
    starting = asyncio.create_task(host.start())
    try:
        async with aiohttp.ClientSession() as http:
            async def answer() -> tuple[int, bytes] | None:
                try:
                    async with http.get(f"http://127.0.0.1:{host.port}/readyz") as resp:
                        return resp.status, await resp.read()
                except aiohttp.ClientConnectorError:
                    return None  # not listening yet

            status, body = await eventually(answer, what="the deadletter service to listen")
        assert status == 503 and msgspec.json.decode(body)["checks"]["nats_connected"] is False
        _check_body("/readyz", "get", status, "application/json", body)
        return str(status)
    finally:
        await host.stop(grace=0.5)
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
