"""`GET /v1/schemas` and `GET /v1/schemas/{type}/{version}`: the registered contracts, for consumers.

Served by ingress (the public service) from its live configuration snapshot; no extra round trip.
"""

from __future__ import annotations

from typing import Any, Protocol

import msgspec
from aiohttp import web

from shared.config import Schema, sunset_epoch
from shared.envelope import schema_uri
from shared.errors import NotFound
from shared.problems import json_response


class _HasContext(Protocol):
    ctx: Any


def _summary(schema: Schema) -> dict[str, Any]:
    item: dict[str, Any] = {"type": schema.type, "version": schema.version, "compatibility": schema.compatibility,
                            "dataschema": schema_uri(schema.type, schema.version),
                            "deprecated": schema.deprecated}
    if schema.sunset is not None:
        item["sunset"] = schema.sunset.isoformat()
    if schema.description:
        item["description"] = schema.description
    return item


class SchemasApi:
    def __init__(self, service: _HasContext) -> None:
        self.service = service

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/v1/schemas", self.list), web.get("/v1/schemas/{type}/{version}", self.show)]

    def _schemas(self) -> dict[str, Schema]:
        return self.service.ctx.config.snapshot.schemas

    async def list(self, request: web.Request) -> web.Response:
        wanted = request.query.get("type")
        items = sorted((s for s in self._schemas().values() if not wanted or s.type == wanted),
                       key=lambda s: (s.type, s.version))
        return json_response({"items": [_summary(s) for s in items]})

    async def show(self, request: web.Request) -> web.Response:
        event_type, raw = request.match_info["type"], request.match_info["version"].removeprefix("v")
        schema = self._schemas().get(f"{event_type}.v{raw}") if raw.isascii() and raw.isdigit() else None
        if schema is None:
            raise NotFound(f"no schema {event_type} version {raw}; list them with GET /v1/schemas")
        headers = {"X-Hookmesh-Compatibility": schema.compatibility}
        if schema.deprecated:
            headers["Deprecation"] = "true"
        if schema.sunset is not None:
            from email.utils import formatdate

            headers["Sunset"] = formatdate(sunset_epoch(schema.sunset), usegmt=True)
        return web.Response(body=msgspec.json.encode(schema.schema), content_type="application/schema+json",
                            headers=headers)
