"""The one decision routing makes: which destinations get this event, and which are refused."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.routing.rules import RouteTable
from shared.config import Destination
from shared.envelope import CloudEvent


@dataclass
class Decision:
    routes: list[str] = field(default_factory=list)
    destinations: list[str] = field(default_factory=list)
    region_blocked: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def region_allowed(destination: Destination, region: str | None) -> bool:
    """Data sovereignty: a destination with allowed_regions takes only events from those regions."""
    if not destination.allowed_regions:
        return True
    return region is not None and region in destination.allowed_regions


def decide(event: CloudEvent, table: RouteTable, destinations: dict[str, Destination]) -> Decision:
    decision = Decision()
    for route in table.match(event):
        decision.routes.append(route.name)
        for name in route.to:
            if name in decision.destinations or name in decision.region_blocked or name in decision.unknown:
                continue
            destination = destinations.get(name)
            if destination is None:
                decision.unknown.append(name)
            elif region_allowed(destination, event.region):
                decision.destinations.append(name)
            else:
                decision.region_blocked.append(name)
    return decision
