"""services/deadletter/opsevents.py: what an operational event says, and when none is sent."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from services.deadletter.opsevents import DELIVERY_FAILED, EVENT_REJECTED, derived_event_id, operational_event
from shared.deadletters import DeadLetter
from shared.envelope import encode, new_event, new_event_id

UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _letter(stage: str, event_type: str = "com.acme.order.created", **extra: Any) -> DeadLetter:
    event = new_event(id="ev-1", source="/hookmesh/sources/shop", type=event_type, region="eu",
                      data=msgspec.Raw(b"{}"))
    return DeadLetter(id=new_event_id(), event_id="ev-1", event=msgspec.Raw(encode(event)), stage=stage,
                      reason="non_retryable_status", error="HTTP 422", first_failure="2024-01-01T00:00:00Z",
                      last_failure="2024-01-01T00:00:01Z", trace_id="ab" * 16, source="shop", type=event_type,
                      **extra)


def test_a_delivery_failure_is_announced_with_what_an_operator_or_a_saga_needs() -> None:
    letter = _letter("delivery", destination="billing", details={"status": 422})
    event = operational_event(letter, api_base="http://dlq.internal:8081/")
    assert event is not None
    assert (event.type, event.source, event.subject, event.time) == (
        DELIVERY_FAILED, "/hookmesh/system", "ev-1", "2024-01-01T00:00:01Z")
    assert event.region == "eu" and event.correlationid == "ev-1"  # routes and sovereignty rules still apply
    data = event.data_json()
    assert data["dead_letter_id"] == letter.id and data["destination"] == "billing" and data["status"] == 422
    assert data["links"]["replay"] == f"http://dlq.internal:8081/v1/dead-letters/{letter.id}/replay"
    assert data["trace_id"] == "ab" * 16


def test_validation_and_routing_failures_are_rejections() -> None:
    for stage in ("validation", "routing"):
        event = operational_event(_letter(stage), api_base="http://x")
        assert event is not None and event.type == EVENT_REJECTED


def test_no_announcement_about_hookmesh_events_so_nothing_loops() -> None:
    assert operational_event(_letter("delivery", DELIVERY_FAILED), api_base="http://x") is None
    assert operational_event(_letter("delivery", "com.hookmesh.destination.disabled"), api_base="http://x") is None
    untyped = _letter("routing", DELIVERY_FAILED)
    untyped.type = ""  # the type is read from the event itself when the record lacks it
    assert operational_event(untyped, api_base="http://x") is None


def test_unreadable_events_are_still_announced() -> None:
    letter = _letter("validation")
    letter.event = msgspec.Raw(b'"not an envelope"')
    letter.type = ""
    event = operational_event(letter, api_base="http://x")
    assert event is not None and event.region is None


def test_derived_ids_are_stable_uuid7_ordered_by_the_dead_letter() -> None:
    first, second = new_event_id(), new_event_id()
    a, b = derived_event_id(first, DELIVERY_FAILED), derived_event_id(second, DELIVERY_FAILED)
    assert a == derived_event_id(first, DELIVERY_FAILED)  # the same on every attempt
    assert UUID7.match(a) and UUID7.match(b)
    assert a[:13] == first[:13]  # the dead letter's millisecond time, so ids stay time-ordered
    assert a != derived_event_id(first, EVENT_REJECTED) and a != first
