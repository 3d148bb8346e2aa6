"""Helpers for the ingress suites: builder fixtures, and the envelopes ingress stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared import subjects
from tests.support.mesh import Mesh

FIXTURES = Path(__file__).parent.parent / "fixtures" / "builders"

SCHEMA = """
schemas:
  - type: com.acme.order.created
    version: 1
    schema:
      $schema: https://json-schema.org/draft/2020-12/schema
      type: object
      required: [order_id, total]
      properties:
        order_id: {type: string}
        total: {type: number, minimum: 0}
"""


def fixture(name: str) -> bytes:
    data = (FIXTURES / name).read_bytes()
    if name.endswith(".txt"):
        data = data.rstrip(b"\n")
    return data


def fixture_headers(name: str) -> dict[str, str]:
    headers: dict[str, str] = json.loads((FIXTURES / name).read_text())
    return headers


def sources_yaml(*blocks: str) -> str:
    return "sources:\n" + "".join(blocks) + SCHEMA


async def stored(mesh: Mesh) -> list[dict[str, Any]]:
    """Every envelope in HOOKMESH_INGRESS, in order."""
    nc = await mesh.connect()
    js = nc.jetstream()
    info = await js.stream_info(subjects.INGRESS_STREAM)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        if info.state.messages == 0:
            break
        msg = await js.get_msg(subjects.INGRESS_STREAM, seq)
        out.append(json.loads(msg.data or b"{}"))
    return out
