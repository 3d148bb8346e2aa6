"""The route table: every route's pattern compiled once, rebuilt when routes change."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import msgspec

from shared.config import Route
from shared.envelope import CloudEvent
from shared.patterns import Matcher, compile_pattern, references_data

ATTRIBUTES = ("specversion", "id", "source", "type", "time", "datacontenttype", "dataschema", "subject",
              "correlationid", "region", "partitionkey", "sourceeventid")


@dataclass(frozen=True)
class CompiledRoute:
    name: str
    matcher: Matcher
    needs_data: bool
    to: tuple[str, ...]
    channel: str = "stream"


class RouteTable:
    def __init__(self) -> None:
        self.routes: tuple[CompiledRoute, ...] = ()
        self.needs_data = False

    def rebuild(self, routes: dict[str, Route]) -> list[str]:
        """Recompile all routes; a route that does not compile is skipped and named in the result."""
        compiled, broken = [], []
        for name in sorted(routes):
            route = routes[name]
            try:
                compiled.append(CompiledRoute(name, compile_pattern(route.match), references_data(route.match),
                                              tuple(route.to), route.channel))
            except ValueError:
                broken.append(name)
        self.routes = tuple(compiled)
        self.needs_data = any(r.needs_data for r in compiled)
        return broken

    def view(self, event: CloudEvent) -> dict[str, Any]:
        """The event as patterns see it: attributes, extensions and (only when needed) data."""
        view: dict[str, Any] = {k: v for k in ATTRIBUTES if (v := getattr(event, k)) is not None}
        for key, raw in event.extras.items():
            with contextlib.suppress(msgspec.DecodeError):
                view[key] = msgspec.json.decode(raw)
        if self.needs_data and event.data is not msgspec.UNSET:
            with contextlib.suppress(msgspec.DecodeError):  # data that is not JSON matches no data pattern
                view["data"] = msgspec.json.decode(event.data)
        return view

    def match(self, event: CloudEvent) -> list[CompiledRoute]:
        view = self.view(event)
        return [r for r in self.routes if r.matcher(view)]
