"""Making dead letters through the real mesh, and reading them back through the API."""

from __future__ import annotations

from typing import Any

from tests.support.mesh import Mesh
from tests.support.polling import eventually

BAD_ORDER = {"order_id": 7}  # order_id must be a string and total is required: schema_invalid

SECOND_SOURCE = """  - name: crm
    event_type: com.acme.order.created
    schema_version: 1
"""


async def listed(mesh: Mesh, query: str = "", **headers: str) -> list[dict[str, Any]]:
    response = await mesh.dlq("GET", f"?limit=500{'&' + query if query else ''}", headers=headers or None)
    assert response.status == 200, response.body
    return list(response.json["items"])


async def wait_for_letters(mesh: Mesh, count: int, query: str = "", **headers: str) -> list[dict[str, Any]]:
    async def probe() -> list[dict[str, Any]] | None:
        items = await listed(mesh, query, **headers)
        return items if len(items) >= count else None

    items = await eventually(probe, what=f"{count} dead letters matching {query!r}")
    assert len(items) == count, [i["id"] for i in items]
    return items


async def post_bad_orders(mesh: Mesh, count: int, *, source: str = "shop") -> list[str]:
    ids = []
    for i in range(count):
        response = await mesh.post(source, {**BAD_ORDER, "n": i})
        assert response.status == 202, response.body
        ids.append(response.json["id"])
    return ids
