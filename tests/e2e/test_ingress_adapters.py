"""Each builder's request, from tests/fixtures/builders, becomes the right event(s) on HOOKMESH_INGRESS."""

from __future__ import annotations

from tests.e2e.ingress_support import fixture, fixture_headers, sources_yaml, stored
from tests.support.mesh import Mesh

ORDER = "    event_type: com.acme.order.created\n    schema_version: 1\n"


async def _ingress(mesh_factory: type[Mesh], *blocks: str) -> Mesh:
    mesh = mesh_factory(services=("ingress",))
    await mesh.apply(sources_yaml(*blocks))
    return await mesh.start()


async def test_zapier_form_is_unflattened_and_keyed_by_idempotency_key(mesh_factory: type[Mesh]) -> None:
    mesh = await _ingress(mesh_factory, "  - name: zap\n    kind: zapier\n" + ORDER)
    headers = fixture_headers("zapier_form.headers.json")
    first = await mesh.post("zap", data=fixture("zapier_form.txt"), headers=headers)
    again = await mesh.post("zap", data=fixture("zapier_form.txt"), headers=headers)
    assert first.status == 202, first.body
    assert again.json == {"id": first.json["id"], "duplicate": True}
    [event] = await stored(mesh)
    assert event["sourceeventid"] == "zap-run-4c1f9e"
    assert event["data"] == {
        "order_id": "Z-1001", "total": "42.50", "currency": "EUR",
        "customer": {"email": "ana@example.com", "name": "Ana Souza", "address": {"country": "PT"}},
        "line_items": [{"sku": "TSHIRT-M"}, {"sku": "MUG"}]}


async def test_zapier_json_with_transform_types_the_strings(mesh_factory: type[Mesh]) -> None:
    transform = '\'{"order_id": order_id, "total": $number(total), "email": customer.email}\''
    mesh = await _ingress(mesh_factory, f"  - name: zap\n    kind: zapier\n    transform: {transform}\n" + ORDER)
    response = await mesh.post("zap", data=fixture("zapier_json.json"), headers={"Content-Type": "application/json"})
    assert response.status == 202, response.body
    [event] = await stored(mesh)
    assert event["data"] == {"order_id": "Z-1002", "total": 19.9, "email": "li@example.com"}


async def test_make_json_carries_the_execution_id(mesh_factory: type[Mesh]) -> None:
    mesh = await _ingress(mesh_factory, "  - name: mk\n    kind: make\n" + ORDER)
    headers = fixture_headers("make_json.headers.json")
    first = await mesh.post("mk", data=fixture("make_json.json"), headers=headers)
    retried = await mesh.post("mk", data=fixture("make_json.json"), headers=headers)
    assert first.status == retried.status == 202
    assert retried.json["duplicate"] is True and retried.json["id"] == first.json["id"]
    [event] = await stored(mesh)
    assert event["sourceeventid"] == "f3a9c21b8d0e4a7c9e1b2d3f4a5b6c7d"
    assert event["data"]["order_id"] == "M-2001"


async def test_make_multipart_fields_and_refused_file(mesh_factory: type[Mesh]) -> None:
    mesh = await _ingress(mesh_factory, "  - name: mk\n    kind: make\n" + ORDER)
    boundary = "------------------------MakeBoundary7MA4YWxk"
    content_type = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    body = fixture("make_multipart.txt").replace(b"\n", b"\r\n")
    ok = await mesh.post("mk", data=body, headers=content_type)
    assert ok.status == 202, ok.body
    file_part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"invoice\"; filename=\"a.pdf\"\r\n"
                 f"Content-Type: application/pdf\r\n\r\n%PDF-1.7\r\n--{boundary}--\r\n").encode()
    refused = await mesh.post("mk", data=file_part, headers=content_type)
    assert refused.status == 415
    assert "invoice" in refused.json["detail"] and "file" in refused.json["detail"]
    [event] = await stored(mesh)
    assert event["data"] == {"order_id": "M-2002", "total": "7.5", "note": "entregue à porta"}


async def test_n8n_batch_is_one_event_per_element(mesh_factory: type[Mesh]) -> None:
    mesh = await _ingress(mesh_factory, "  - name: flow\n    kind: n8n\n    batch: true\n" + ORDER)
    headers = fixture_headers("n8n_batch.headers.json")
    response = await mesh.post("flow", data=fixture("n8n_batch.json"), headers=headers)
    assert response.status == 202, response.body
    ids = response.json["ids"]
    assert len(ids) == 3 and len(set(ids)) == 3
    events = await stored(mesh)
    assert [e["id"] for e in events] == ids
    assert [e["data"]["order_id"] for e in events] == ["N-3001", "N-3002", "N-3003"]
    assert {e["sourceeventid"] for e in events} == {"2317"}
    again = await mesh.post("flow", data=fixture("n8n_batch.json"), headers=headers)
    assert again.json == {"ids": ids, "duplicates": 3}
    assert len(await stored(mesh)) == 3


async def test_n8n_test_execution_is_answered_without_publishing(mesh_factory: type[Mesh]) -> None:
    mesh = await _ingress(mesh_factory, "  - name: flow\n    kind: n8n\n    batch: true\n" + ORDER)
    headers = {**fixture_headers("n8n_batch.headers.json"), "X-N8N-Execution-Mode": "test"}
    response = await mesh.post("flow", data=fixture("n8n_batch.json"), headers=headers)
    assert response.status == 200
    assert response.json["test"] is True and response.json["events"] == 3
    generic = await mesh.post("flow", json={"order_id": "x", "total": 1}, headers={"X-Hookmesh-Test": "true"})
    assert generic.status == 200 and generic.json["published"] is False
    assert await stored(mesh) == []


async def test_power_automate_run_and_action_ids(mesh_factory: type[Mesh]) -> None:
    mesh = await _ingress(mesh_factory, "  - name: pa\n    kind: power-automate\n" + ORDER)
    headers = fixture_headers("power_automate.headers.json")
    first = await mesh.post("pa", data=fixture("power_automate.json"), headers=headers)
    retry = await mesh.post("pa", data=fixture("power_automate.json"), headers=headers)
    next_loop = await mesh.post("pa", data=fixture("power_automate.json"),
                                headers={**headers, "x-ms-action-tracking-id": "another-iteration"})
    assert first.status == retry.status == next_loop.status == 202
    assert retry.json["duplicate"] is True
    assert next_loop.json["id"] != first.json["id"]
    events = await stored(mesh)
    assert [e["sourceeventid"] for e in events] == [
        "08585896950846177306634438317CU47:90ae06c7-cdd0-4a4f-9126-a8ee08149cef",
        "08585896950846177306634438317CU47:another-iteration"]


async def test_generic_pointers_transform_governance_and_errors(mesh_factory: type[Mesh]) -> None:
    block = ("  - name: gen\n    type_from: /event\n    version_from: /v\n    region_from: /order/region\n"
             "    subject_from: /order/id\n    partitionkey_from: /order/id\n"
             "    allowed_types: [com.acme.order.created]\n"
             '    transform: \'{"order_id": order.id, "total": $number(order.amount)}\'\n')
    mesh = await _ingress(mesh_factory, block)
    ok = await mesh.post("gen", data=fixture("generic.json"), headers={"Content-Type": "application/json"})
    assert ok.status == 202, ok.body
    [event] = await stored(mesh)
    assert event["type"] == "com.acme.order.created"
    assert event["dataschema"] == "hookmesh://schemas/com.acme.order.created/v1"
    assert (event["region"], event["subject"], event["partitionkey"]) == ("eu", "G-5001", "G-5001")
    assert event["data"] == {"order_id": "G-5001", "total": 99.95}

    forbidden = await mesh.post("gen", json={"event": "com.acme.user.deleted", "v": 1, "order": {"id": "1"}})
    assert forbidden.status == 403 and "allowed_types" in forbidden.json["detail"]
    broken = await mesh.post("gen", json={"event": "com.acme.order.created", "v": 1,
                                          "order": {"id": "G", "amount": "not a number"}})
    assert broken.status == 422
    assert "transform" in broken.json["detail"]
    latin = await mesh.request("POST", f"{mesh.url('ingress')}/v1/hooks/gen", data=b"{}",
                               headers={"Content-Type": "application/json; charset=iso-8859-1"})
    assert latin.status == 415
    metrics = await mesh.request("GET", f"{mesh.url('ingress')}/metrics")
    assert 'hookmesh_ingress_forbidden_types_total{source="gen"} 1.0' in metrics.body.decode()
    assert len(await stored(mesh)) == 1


async def test_form_charset_and_repeated_keys(mesh_factory: type[Mesh]) -> None:
    mesh = await _ingress(mesh_factory, "  - name: gen\n" + ORDER)
    body = b"order_id=J%E9r%F4me&total=1&tag=a&tag=b"
    response = await mesh.post("gen", data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded; charset=ISO-8859-1"})
    assert response.status == 202, response.body
    [event] = await stored(mesh)
    assert event["data"] == {"order_id": "Jérôme", "total": "1", "tag": ["a", "b"]}
