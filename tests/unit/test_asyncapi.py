"""The AsyncAPI 3.0 document: complete for every subject and type, valid against the official schema."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import jsonschema_rs
import pytest

from shared import subjects
from shared.asyncapi import build
from shared.config import load_config, parse_config
from shared.envelope import schema_uri

CONFIG = """
sources: [{name: shop, event_type: com.acme.order.created, schema_version: 2}]
schemas:
  - {type: com.acme.order.created, version: 1, schema: {type: object, required: [id]}}
  - {type: com.acme.order.created, version: 2, schema: {type: object, required: [id, total]}}
  - {type: com.acme.invoice.paid, version: 1, schema: {type: object}}
destinations: [{name: billing, url: "https://billing.example/hooks"}]
routes: [{name: all, to: [billing]}]
"""


@pytest.fixture(scope="module")
def official_schema(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The AsyncAPI 3.0.0 JSON Schema from the @asyncapi/specs npm package (fetched with npm)."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed, so the official AsyncAPI schema cannot be fetched; "
                    "the structural checks still ran")
    folder = tmp_path_factory.mktemp("asyncapi-specs")
    subprocess.run([npm, "pack", "@asyncapi/specs@6", "--silent"], cwd=folder, check=True, timeout=120,
                   capture_output=True)
    [tarball] = folder.glob("*.tgz")
    with tarfile.open(tarball) as archive:
        member = archive.extractfile("package/schemas/3.0.0-without-$id.json")
        assert member is not None
        return json.load(member)


def test_every_subject_and_registered_type_is_described() -> None:
    document = build(parse_config(CONFIG))
    assert document["asyncapi"] == "3.0.0"
    addresses = {c["address"] for c in document["channels"].values()}
    assert subjects.ingress("{source}") in addresses
    assert subjects.deliver("{destination}") in addresses
    assert subjects.deliver_batch("{destination}") in addresses
    assert subjects.deliver_ordered("{destination}") in addresses
    assert subjects.RPC_VALIDATE in addresses
    assert subjects.dlq("{stage}", "{name}") in addresses
    assert subjects.events("com.acme.order.created") in addresses
    assert subjects.events("com.acme.invoice.paid") in addresses
    assert document["channels"]["ingress"]["parameters"]["source"]["enum"] == ["shop"]
    order = document["channels"]["events.com.acme.order.created"]
    assert sorted(order["messages"]) == ["com.acme.order.created.v1", "com.acme.order.created.v2"]
    v2 = document["components"]["messages"]["com.acme.order.created.v2"]["payload"]["allOf"][1]["properties"]
    assert v2["data"] == {"type": "object", "required": ["id", "total"]}
    assert v2["dataschema"] == {"const": schema_uri("com.acme.order.created", 2)}
    assert document["operations"]["receive.com.acme.order.created"]["action"] == "receive"
    envelope = document["components"]["schemas"]["CloudEvent"]
    assert {"specversion", "id", "source", "type"} <= set(envelope["required"])
    assert {"traceparent", "partitionkey", "region", "sourceeventid", "correlationid"} <= set(envelope["properties"])


def test_every_ref_resolves() -> None:
    document = build(parse_config(CONFIG))

    def refs(node: object) -> list[str]:
        if isinstance(node, dict):
            return ([node["$ref"]] if "$ref" in node else []) + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    for ref in refs(document):
        node: object = document
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(node, dict) and part in node, f"unresolved {ref}"
            node = node[part]


def test_document_is_valid_asyncapi_3(official_schema: dict) -> None:
    demo = Path(__file__).parents[2] / "shared" / "demo" / "hookmesh.yaml"
    for config in (parse_config(CONFIG), load_config(demo)):
        document = json.loads(json.dumps(build(config)))
        errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}"
                  for e in jsonschema_rs.validator_for(official_schema).iter_errors(document)]
        assert errors == []
