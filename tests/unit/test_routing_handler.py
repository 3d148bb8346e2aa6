"""services/routing/handler.py: which destinations get an event, on which subject, and which are refused."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from services.routing.handler import Decision, decide, region_allowed, subject_for
from services.routing.rules import RouteTable
from shared import subjects
from shared.config import Destination, Route, convert
from shared.envelope import CloudEvent, new_event

ORDER = "com.shop.order.created"


def route(name: str, to: list[str], match: dict[str, Any] | None = None, channel: str = "stream") -> Route:
    return convert({"name": name, "to": to, "match": match or {}, "channel": channel}, Route)


def destination(name: str, **fields: Any) -> Destination:
    return convert({"name": name, "url": f"https://{name}.example/hooks", **fields}, Destination)


def table(*routes: Route) -> RouteTable:
    routing = RouteTable()
    assert routing.rebuild({r.name: r for r in routes}) == []
    return routing


def event(data: Any = msgspec.UNSET, **attributes: Any) -> CloudEvent:
    if data is not msgspec.UNSET:
        attributes["data"] = msgspec.Raw(json.dumps(data).encode())
    return new_event(id="evt-1", source="/hookmesh/sources/shop", type=ORDER, **attributes)


DESTINATIONS = {
    "crm": destination("crm"),
    "sheet": destination("sheet"),
    "eu-only": destination("eu-only", allowed_regions=["eu"]),
    "eu-or-uk": destination("eu-or-uk", allowed_regions=["eu", "uk"]),
}


def test_fan_out_is_deduplicated() -> None:
    routing = table(
        route("all", ["crm", "sheet"]),
        route("orders", ["sheet", "crm", "sheet"], {"type": [ORDER]}),
        route("paid", ["eu-only"], {"type": ["com.shop.order.paid"]}),
    )
    decision = decide(event(), routing, DESTINATIONS)
    assert decision == Decision(routes=["all", "orders"], destinations=["crm", "sheet"],
                                subjects={"crm": "hookmesh.deliver.crm", "sheet": "hookmesh.deliver.sheet"})


@pytest.mark.parametrize(("total", "destinations"), [(150, ["sheet", "crm"]), (50, ["sheet"])])
def test_data_pattern_selects_destinations(total: int, destinations: list[str]) -> None:
    routing = table(route("a-all", ["sheet"]), route("b-big", ["crm"], {"data": {"total": [{"numeric": [">", 100]}]}}))
    assert decide(event({"total": total}), routing, DESTINATIONS).destinations == destinations


def test_no_route_matches() -> None:
    routing = table(route("paid", ["crm"], {"type": ["com.shop.order.paid"]}))
    assert decide(event(), routing, DESTINATIONS) == Decision()


@pytest.mark.parametrize(("region", "delivered", "blocked"), [
    (None, ["crm"], [("all", "eu-only"), ("all", "eu-or-uk")]),
    ("eu", ["crm", "eu-only", "eu-or-uk"], []),
    ("uk", ["crm", "eu-or-uk"], [("all", "eu-only")]),
    ("us", ["crm"], [("all", "eu-only"), ("all", "eu-or-uk")]),
    ("EU", ["crm"], [("all", "eu-only"), ("all", "eu-or-uk")]),
])
def test_allowed_regions(region: str | None, delivered: list[str], blocked: list[tuple[str, str]]) -> None:
    routing = table(route("all", ["crm", "eu-only", "eu-or-uk"]), route("then-again", ["eu-only"]))
    attributes = {} if region is None else {"region": region}
    decision = decide(event(**attributes), routing, DESTINATIONS)
    assert decision.destinations == delivered
    assert sorted(decision.subjects) == sorted(delivered)
    assert decision.region_blocked == blocked  # each refused destination once, with the first route naming it
    assert decision.blocked_destinations == [d for _, d in blocked]
    assert decision.unknown == []


def test_unknown_destinations_are_reported_once() -> None:
    routing = table(route("a", ["crm", "gone"]), route("b", ["gone", "missing", "sheet"]))
    decision = decide(event(), routing, DESTINATIONS)
    assert decision.routes == ["a", "b"]
    assert decision.destinations == ["crm", "sheet"]
    assert decision.unknown == ["gone", "missing"]
    assert set(decision.subjects) == {"crm", "sheet"}


ORDERED = destination("ordered", ordered=True)


@pytest.mark.parametrize(("dest", "channel", "attributes", "subject"), [
    (DESTINATIONS["crm"], "stream", {}, subjects.deliver("crm")),
    (DESTINATIONS["crm"], "stream", {"partitionkey": "c-1"}, subjects.deliver("crm")),
    (DESTINATIONS["crm"], "batch", {}, subjects.deliver_batch("crm")),
    (ORDERED, "stream", {"partitionkey": "c-1"}, subjects.deliver_ordered("ordered")),
    (ORDERED, "stream", {}, subjects.deliver("ordered")),
    (ORDERED, "batch", {"partitionkey": "c-1"}, subjects.deliver_batch("ordered")),
])
def test_subject_for(dest: Destination, channel: str, attributes: dict[str, Any], subject: str) -> None:
    assert subject_for(dest, channel, event(**attributes)) == subject


def test_decide_publishes_on_the_channel_subject() -> None:
    routing = table(route("a-batch", ["crm"], channel="batch"), route("b-stream", ["crm", "ordered"]))
    decision = decide(event(partitionkey="c-1"), routing, {**DESTINATIONS, "ordered": ORDERED})
    assert decision.destinations == ["crm", "ordered"]
    assert decision.subjects == {"crm": "hookmesh.deliver.crm.batch", "ordered": "hookmesh.deliver.ordered.ordered"}


@pytest.mark.parametrize(("allowed", "region", "expected"), [
    (None, None, True),
    (None, "eu", True),
    ([], None, True),
    (["eu"], "eu", True),
    (["eu"], None, False),
    (["eu"], "us", False),
    (["eu", "us"], "us", True),
])
def test_region_allowed(allowed: list[str] | None, region: str | None, expected: bool) -> None:
    fields = {} if allowed is None else {"allowed_regions": allowed}
    assert region_allowed(destination("d", **fields), region) is expected
