"""The one decision routing makes: which destinations get this event, on which subject, and which refuse it."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.routing.rules import RouteTable
from shared import subjects
from shared.config import Destination
from shared.envelope import CloudEvent


@dataclass
class Decision:
    routes: list[str] = field(default_factory=list)
    destinations: list[str] = field(default_factory=list)
    # destination -> the subject its copy is published on (stream, batch or ordered channel)
    subjects: dict[str, str] = field(default_factory=dict)
    # (route, destination) pairs refused by the destination's allowed_regions
    region_blocked: list[tuple[str, str]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    @property
    def blocked_destinations(self) -> list[str]:
        return [d for _, d in self.region_blocked]


def region_allowed(destination: Destination, region: str | None) -> bool:
    """Data sovereignty: a destination with allowed_regions takes only events from those regions."""
    if not destination.allowed_regions:
        return True
    return region is not None and region in destination.allowed_regions


def subject_for(destination: Destination, channel: str, event: CloudEvent) -> str:
    """Batch routes go to the destination's batch consumer; keyed events for an ordered destination to its
    ordered consumer; everything else to the plain per-destination subject."""
    if channel == "batch":
        return subjects.deliver_batch(destination.name)
    if destination.ordered and event.partitionkey:
        return subjects.deliver_ordered(destination.name)
    return subjects.deliver(destination.name)


def decide(event: CloudEvent, table: RouteTable, destinations: dict[str, Destination]) -> Decision:
    decision = Decision()
    for route in table.match(event):
        decision.routes.append(route.name)
        for name in route.to:
            if name in decision.subjects or name in decision.unknown:
                continue
            destination = destinations.get(name)
            if destination is None:
                decision.unknown.append(name)
            elif region_allowed(destination, event.region):
                decision.destinations.append(name)
                decision.subjects[name] = subject_for(destination, route.channel, event)
            elif name not in decision.blocked_destinations:
                decision.region_blocked.append((route.name, name))
    return decision
