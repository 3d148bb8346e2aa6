"""Publishing validated CloudEvents straight onto hookmesh.events.{type}, for routing and delivery tests
that do not need ingress and validation in front."""

from __future__ import annotations

from typing import Any

import msgspec

from shared import subjects
from shared.envelope import encode, new_event, new_event_id, now_rfc3339
from tests.support.mesh import Mesh

ROUTING_DELIVERY = ("routing", "delivery", "deadletter")


async def publish(mesh: Mesh, data: Any = None, *, type: str = "com.acme.order.created", **attributes: Any) -> str:
    """Publish one event as validation would; returns its id."""
    nc = await mesh.connect()
    event = new_event(id=new_event_id(), source="/hookmesh/sources/shop", type=type, time=now_rfc3339(),
                      datacontenttype="application/json",
                      data=msgspec.Raw(msgspec.json.encode({} if data is None else data)), **attributes)
    ack = await nc.jetstream().publish(subjects.events(type), encode(event), headers={"Nats-Msg-Id": event.id},
                                       stream=subjects.EVENTS_STREAM)
    assert not ack.duplicate
    return event.id


def destination(name: str, url: str, extra: str = "", *, retry: str = "{max_attempts: 3, initial: 100ms, max: 1s}",
                ) -> str:
    """One destination entry (YAML) on loopback, unsigned."""
    lines = [f"  - name: {name}", f"    url: {url}", "    timeout: 2s", f"    retry: {retry}",
             "    allow_private_network: true"]
    lines += [f"    {line}" for line in extra.strip().splitlines() if line.strip()]
    return "\n".join(lines) + "\n"


def route(name: str, to: list[str], match: str = "{type: [com.acme.order.created]}", extra: str = "") -> str:
    lines = [f"  - name: {name}", f"    match: {match}", f"    to: [{', '.join(to)}]"]
    lines += [f"    {line}" for line in extra.strip().splitlines() if line.strip()]
    return "\n".join(lines) + "\n"


def config(destinations: list[str], routes: list[str]) -> str:
    return "destinations:\n" + "".join(destinations) + "routes:\n" + "".join(routes)
