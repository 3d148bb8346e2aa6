"""`hookmesh routes test`, `hookmesh history` and `hookmesh events show`, run as a user runs them."""

from __future__ import annotations

from pathlib import Path

import msgspec

from tests.support.cli import hookmesh
from tests.support.events import ROUTING_DELIVERY, config, destination, publish, route
from tests.support.mesh import Mesh
from tests.support.sink import RecordingSink

ROUTE = """
name: big-eu-orders
match:
  type: [com.acme.order.created]
  region: [eu]
  data: {total: [{numeric: [">", 100]}]}
to: [billing]
"""


def _event(total: float, region: str = "eu") -> bytes:
    return msgspec.json.encode({"specversion": "1.0", "id": "e-1", "source": "/hookmesh/sources/shop",
                                "type": "com.acme.order.created", "region": region, "data": {"total": total}})


async def test_routes_test_explains_field_by_field(tmp_path: Path) -> None:
    (tmp_path / "route.yaml").write_text(ROUTE)
    (tmp_path / "big.json").write_bytes(_event(250))
    (tmp_path / "small.json").write_bytes(_event(50, region="us"))
    ok = await hookmesh("routes", "test", "-f", str(tmp_path / "route.yaml"), "--event", str(tmp_path / "big.json"))
    assert ok.code == 0, ok.stderr
    assert "✓ data.total: 250 matches" in ok.stdout and ok.stdout.rstrip().endswith("MATCH")
    no = await hookmesh("routes", "test", "-f", str(tmp_path / "route.yaml"), "--event",
                        str(tmp_path / "small.json"))
    assert no.code == 1
    assert '✗ region: "us" does not match ["eu"]' in no.stdout
    assert "✗ data.total: 50 does not match" in no.stdout and "NO MATCH" in no.stdout
    assert '✓ type: "com.acme.order.created" matches' in no.stdout
    (tmp_path / "bad.yaml").write_text("name: x\nmatch: {data: {total: [{numeric: ['>>', 1]}]}}\nto: [b]\n")
    bad = await hookmesh("routes", "test", "-f", str(tmp_path / "bad.yaml"), "--event", str(tmp_path / "big.json"))
    assert bad.code == 2 and "x.match.data.total[0].numeric[0]" in bad.stderr


async def test_last_n_history_and_event_timeline(mesh_factory: type[Mesh], sink: RecordingSink,
                                                 tmp_path: Path) -> None:
    mesh = mesh_factory(services=ROUTING_DELIVERY)
    env = {"NATS_URL": mesh.settings.nats_url, "HOOKMESH_ACTOR": "carol@ci"}
    first = config([destination("billing", sink.url)], [route("orders", ["billing"])])
    (tmp_path / "hookmesh.yaml").write_text(first)
    assert (await hookmesh("apply", "-f", str(tmp_path / "hookmesh.yaml"), env=env)).code == 0
    (tmp_path / "hookmesh.yaml").write_text(first.replace("{type: [com.acme.order.created]}",
                                                          "{type: [com.acme.order.created, com.acme.order.paid]}"))
    assert (await hookmesh("apply", "-f", str(tmp_path / "hookmesh.yaml"), env={**env, "HOOKMESH_ACTOR": "dave"})
            ).code == 0
    await mesh.start()
    ids = [await publish(mesh, {"total": t}, region="eu") for t in (50, 150, 250)]
    await sink.wait_for(3)

    (tmp_path / "route.yaml").write_text(ROUTE)
    last = await hookmesh("routes", "test", "-f", str(tmp_path / "route.yaml"), "--last", "3", env=env)
    assert last.code == 0, last.stderr
    assert "matched 2 of 3 events" in last.stdout
    assert f"✗ #1 {ids[0]}" in last.stdout and "data.total: 50" in last.stdout

    history = await hookmesh("history", "routes", "orders", env=env)
    assert history.code == 0, history.stderr
    assert history.stdout.count("revision ") == 2
    created, changed = history.stdout.split("revision ")[1:]
    assert "by carol@ci  (put)" in created and "+name: orders" in created
    assert "by dave  (put)" in changed and "+  - com.acme.order.paid" in changed
    assert "-name" not in changed  # a diff against the previous revision, not the whole item again

    shown = await hookmesh("events", "show", ids[1], env=env)
    assert shown.code == 0, shown.stderr
    assert "validated" in shown.stdout and "hookmesh.events.com.acme.order.created" in shown.stdout
    assert "routed" in shown.stdout and "hookmesh.deliver.billing" in shown.stdout
    assert "to billing: settled" in shown.stdout
    trace_id = shown.stdout.split("trace ")[1].split()[0]
    assert len(trace_id) == 32
    missing = await hookmesh("events", "show", "01890000-0000-7000-8000-000000000000", env=env)
    assert missing.code == 1
