"""Schema versions: immutable, parallel, refused when incompatible (apply, apply --dry-run, schemas check),
and published at GET /v1/schemas."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import ConfigError
from tests.support.cli import hookmesh
from tests.support.mesh import Mesh
from tests.support.natsserver import NatsServer


def schemas(*versions: tuple[int, str], mode: str = "BACKWARD_TRANSITIVE", extra: str = "") -> str:
    out = "schemas:\n"
    for version, props in versions:
        out += (f"  - type: com.acme.user.created\n    version: {version}\n    compatibility: {mode}\n{extra}"
                f"    schema: {{type: object, additionalProperties: false, properties: {{{props}}}}}\n")
    return out


V1 = (1, "id: {type: string}")
V2_OK = (2, "id: {type: string}, email: {type: string}")
V2_BAD = (2, "id: {type: integer}")


async def test_apply_refuses_breaking_and_changed_versions(mesh_factory: type[Mesh]) -> None:
    mesh = mesh_factory(services=())
    await mesh.apply(schemas(V1))
    with pytest.raises(ConfigError) as refused:
        await mesh.apply(schemas(V1, V2_BAD))
    message = str(refused.value)
    assert "v2 is not BACKWARD_TRANSITIVE compatible" in message
    assert "/properties/id/type: type_changed" in message and "v1 allows string" in message
    with pytest.raises(ConfigError, match=r"already registered with a different document.*immutable"):
        await mesh.apply(schemas((1, "id: {type: string, maxLength: 3}")))
    plan = await mesh.apply(schemas(V1, V2_OK))
    assert plan.create == ["schemas.com.acme.user.created.v2"]
    none_mode = await mesh.apply(schemas(V1, V2_OK, (3, "id: {type: integer}"), mode="NONE"))
    assert none_mode.create == ["schemas.com.acme.user.created.v3"]


async def test_cli_schemas_check_and_apply_dry_run_show_each_breaking_change(
        mesh_factory: type[Mesh], nats_server: NatsServer, tmp_path: Path) -> None:
    mesh = mesh_factory(services=())
    await mesh.apply(schemas(V1))
    bad = tmp_path / "bad.yaml"
    bad.write_text(schemas(V1, V2_BAD))
    good = tmp_path / "good.yaml"
    good.write_text(schemas(V1, V2_OK))
    env = {"NATS_URL": nats_server.url}
    checked = await hookmesh("schemas", "check", "-f", str(bad), env=env)
    assert checked.code == 2
    assert "type_changed" in checked.stderr and "v2 must read v1 data" in checked.stderr
    dry = await hookmesh("apply", "--dry-run", "-f", str(bad), env=env)
    assert dry.code == 2 and "type_changed" in dry.stderr
    ok = await hookmesh("schemas", "check", "-f", str(good), env=env)
    assert ok.code == 0, ok.stderr
    assert "new       com.acme.user.created.v2  compatible" in ok.stdout
    kv = await (await mesh.connect()).jetstream().key_value("hookmesh_config")
    assert sorted(await kv.keys()) == ["schemas.com.acme.user.created.v1"]  # checks change nothing


async def test_schemas_are_published_by_ingress(mesh_factory: type[Mesh]) -> None:
    mesh = mesh_factory(services=("ingress",))
    await mesh.apply(schemas(V1) + schemas(V2_OK, extra="    deprecated: true\n    sunset: 2031-01-31\n")
                     .removeprefix("schemas:\n"))
    await mesh.start()
    listed = await mesh.request("GET", f"{mesh.url('ingress')}/v1/schemas")
    assert listed.status == 200
    assert [(i["version"], i["deprecated"]) for i in listed.json["items"]] == [(1, False), (2, True)]
    assert listed.json["items"][1]["sunset"] == "2031-01-31"
    shown = await mesh.request("GET", f"{mesh.url('ingress')}/v1/schemas/com.acme.user.created/2")
    assert shown.status == 200 and shown.headers["Content-Type"].startswith("application/schema+json")
    assert shown.json["properties"]["email"] == {"type": "string"}
    assert shown.headers["Deprecation"] == "true"
    assert shown.headers["Sunset"] == "Fri, 31 Jan 2031 00:00:00 GMT"
    missing = await mesh.request("GET", f"{mesh.url('ingress')}/v1/schemas/com.acme.user.created/9")
    assert missing.status == 404 and missing.json["status"] == 404
