"""`?dry_run=true`: authenticate, adapt, transform, validate over NATS request-reply; publish nothing."""

from __future__ import annotations

from shared import subjects
from tests.e2e.ingress_support import sources_yaml
from tests.support.mesh import Mesh

SOURCE = ("  - name: shop\n    event_type: com.acme.order.created\n    schema_version: 1\n"
          "    transform: '{\"order_id\": id, \"total\": $number(amount)}'\n")


async def test_dry_run_answers_the_event_or_every_error_and_publishes_nothing(mesh_factory: type[Mesh]) -> None:
    mesh = mesh_factory(services=("ingress", "validation"))
    await mesh.apply(sources_yaml(SOURCE))
    await mesh.start()
    url = f"{mesh.url('ingress')}/v1/hooks/shop?dry_run=true"
    ok = await mesh.request("POST", url, json={"id": "A-1", "amount": "12.5"})
    assert ok.status == 200, ok.body
    assert ok.json["valid"] is True and ok.json["published"] is False
    assert ok.json["event"]["data"] == {"order_id": "A-1", "total": 12.5}
    assert ok.json["event"]["dataschema"] == "hookmesh://schemas/com.acme.order.created/v1"

    bad = await mesh.request("POST", url, json={"id": 7, "amount": "-1"})
    assert bad.status == 422
    assert bad.headers["Content-Type"].startswith("application/problem+json")
    assert {(e["pointer"], e["keyword"]) for e in bad.json["errors"]} == {("/order_id", "type"),
                                                                           ("/total", "minimum")}
    assert bad.json["reasons"] == ["schema_invalid"]

    transform_error = await mesh.request("POST", url, json={"id": "A-1", "amount": "lots"})
    assert transform_error.status == 422 and "transform" in transform_error.json["detail"]
    assert await mesh.stream_messages(subjects.INGRESS_STREAM) == 0


async def test_dry_run_without_validation_is_503(mesh_factory: type[Mesh]) -> None:
    mesh = mesh_factory(services=("ingress",))
    await mesh.apply(sources_yaml(SOURCE))
    await mesh.start()
    response = await mesh.request("POST", f"{mesh.url('ingress')}/v1/hooks/shop?dry_run=1",
                                  json={"id": "A-1", "amount": "1"})
    assert response.status == 503 and response.headers["Retry-After"]
    assert await mesh.stream_messages(subjects.INGRESS_STREAM) == 0
