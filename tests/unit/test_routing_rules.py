"""services/routing/rules.py: the route table, compiled once, and the view patterns see."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from services.routing.rules import RouteTable
from shared.config import Route, convert
from shared.envelope import CloudEvent, decode, new_event

ORDER = "com.shop.order.created"


def route(name: str, to: list[str], match: dict[str, Any] | None = None) -> Route:
    return convert({"name": name, "to": to, "match": match or {}}, Route)


def table(*routes: Route) -> RouteTable:
    routing = RouteTable()
    assert routing.rebuild({r.name: r for r in routes}) == []
    return routing


def event(data: Any = msgspec.UNSET, *, raw: bytes | None = None, **attributes: Any) -> CloudEvent:
    fields: dict[str, Any] = {"id": "evt-1", "source": "/hookmesh/sources/shop", "type": ORDER, **attributes}
    if raw is not None:
        fields["data"] = msgspec.Raw(raw)
    elif data is not msgspec.UNSET:
        fields["data"] = msgspec.Raw(json.dumps(data).encode())
    return new_event(**fields)



def test_rebuild_compiles_routes_in_name_order() -> None:
    routing = table(route("b", ["x"]), route("a", ["y"], {"type": [ORDER]}))
    assert [r.name for r in routing.routes] == ["a", "b"]
    assert routing.routes[0].to == ("y",)
    assert routing.needs_data is False


def test_rebuild_skips_and_names_broken_routes() -> None:
    routing = RouteTable()
    broken = routing.rebuild({
        "good": route("good", ["x"], {"type": [ORDER]}),
        "bad": route("bad", ["x"], {"type": ORDER}),
        "worse": route("worse", ["x"], {"data": {"n": [{"numeric": ["??", 1]}]}}),
    })
    assert broken == ["bad", "worse"]
    assert [r.name for r in routing.routes] == ["good"]
    assert routing.needs_data is False  # only compiled routes count


def test_rebuild_replaces_the_previous_table() -> None:
    routing = table(route("a", ["x"], {"data": {"n": [1]}}))
    assert routing.needs_data is True
    routing.rebuild({"b": route("b", ["y"])})
    assert [r.name for r in routing.routes] == ["b"]
    assert routing.needs_data is False


@pytest.mark.parametrize(("match", "attributes", "data", "expected"), [
    ({}, {}, msgspec.UNSET, True),
    ({"type": [ORDER]}, {}, msgspec.UNSET, True),
    ({"type": ["com.shop.order.paid"]}, {}, msgspec.UNSET, False),
    ({"type": [{"prefix": "com.shop."}]}, {}, msgspec.UNSET, True),
    ({"source": [{"suffix": "/shop"}]}, {}, msgspec.UNSET, True),
    ({"region": ["eu"]}, {"region": "eu"}, msgspec.UNSET, True),
    ({"region": ["eu"]}, {}, msgspec.UNSET, False),
    ({"region": [{"exists": False}]}, {}, msgspec.UNSET, True),
    ({"subject": [{"prefix": "o-"}]}, {"subject": "o-1"}, msgspec.UNSET, True),
    ({"data": {"total": [{"numeric": [">", 100]}]}}, {}, {"total": 150}, True),
    ({"data": {"total": [{"numeric": [">", 100]}]}}, {}, {"total": 50}, False),
    ({"data": {"total": [{"numeric": [">", 100]}]}}, {}, msgspec.UNSET, False),
    ({"data": {"total": [{"numeric": [">", 100]}]}}, {}, [1, 2], False),
    ({"data": {"tags": ["vip"]}}, {}, {"tags": ["new", "vip"]}, True),
    ({"type": [ORDER], "data": {"currency": ["EUR"]}}, {}, {"currency": "USD"}, False),
    ({"$or": [{"region": ["eu"]}, {"data": {"vip": [True]}}]}, {}, {"vip": True}, True),
])
def test_match(match: dict[str, Any], attributes: dict[str, Any], data: Any, expected: bool) -> None:
    routing = table(route("r", ["d"], match))
    matched = routing.match(event(data, **attributes))
    assert [r.name for r in matched] == (["r"] if expected else [])


def test_data_is_not_decoded_when_no_route_needs_it() -> None:
    routing = table(route("r", ["d"], {"type": [ORDER]}), route("s", ["d"], {"$or": [{"type": ["x"]},
                                                                                   {"region": ["eu"]}]}))
    assert routing.needs_data is False
    with_data = event({"n": 1})
    assert "data" not in routing.view(with_data)
    assert [r.name for r in routing.match(with_data)] == ["r"]
    assert [r.name for r in routing.match(event(raw=b"{not json"))] == ["r"]


@pytest.mark.parametrize("data_pattern", [{"data": {"n": [1]}}, {"$or": [{"type": ["x"]}, {"data": {"n": [1]}}]}])
def test_data_is_decoded_when_a_route_needs_it(data_pattern: dict[str, Any]) -> None:
    routing = table(route("r", ["d"], {"type": [ORDER]}), route("s", ["d"], data_pattern))
    assert routing.needs_data is True
    assert routing.view(event({"n": 1}))["data"] == {"n": 1}
    assert [r.name for r in routing.match(event({"n": 1}))] == ["r", "s"]
    assert "data" not in routing.view(event())


def test_data_that_is_not_json_matches_no_data_pattern() -> None:
    routing = table(route("r", ["d"], {"type": [ORDER]}), route("s", ["d"], {"data": {"n": [{"exists": True}]}}))
    broken = event(raw=b"{not json")
    assert "data" not in routing.view(broken)
    assert [r.name for r in routing.match(broken)] == ["r"]


def test_rebuild_keeps_the_channel() -> None:
    routing = table(convert({"name": "b", "to": ["d"], "channel": "batch"}, Route), route("s", ["d"]))
    assert [(r.name, r.channel) for r in routing.routes] == [("b", "batch"), ("s", "stream")]


def test_view_has_attributes_and_extensions() -> None:
    routing = table(route("r", ["d"]))
    received = decode(b'{"specversion":"1.0","id":"e","source":"/s","type":"a.b","region":"eu",'
                      b'"tenant":"acme","tags":["x","y"],"data":{"n":1}}')
    view = routing.view(received)
    assert view == {"specversion": "1.0", "id": "e", "source": "/s", "type": "a.b", "region": "eu",
                    "tenant": "acme", "tags": ["x", "y"]}


def test_match_on_extension_attribute() -> None:
    routing = table(route("acme", ["d"], {"tenant": ["acme"]}), route("other", ["d"], {"tenant": ["other"]}))
    received = decode(b'{"specversion":"1.0","id":"e","source":"/s","type":"a.b","tenant":"acme"}')
    assert [r.name for r in routing.match(received)] == ["acme"]
