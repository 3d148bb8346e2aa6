"""services/deadletter/replay.py: what a replay publishes where, and which requests are refused."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from services.deadletter.replay import ReplayRequest, plan, request_decoder
from shared.deadletters import DeadLetter
from shared.envelope import decode, encode, new_event
from shared.errors import Conflict, Unprocessable

DESTINATIONS = {"billing", "backup"}


def _letter(stage: str, **extra: Any) -> DeadLetter:
    event = new_event(id="ev-1", source="/hookmesh/sources/shop", type="com.acme.order.created",
                      data=msgspec.Raw(b'{"total": -1}'), correlationid="c-1")
    event.extras = {"tenant": msgspec.Raw(b'"acme"')}
    fields: dict[str, Any] = {"id": "dl-1", "event_id": "ev-1", "event": msgspec.Raw(encode(event)), "stage": stage,
                              "reason": "r", "error": "e", "first_failure": "t", "last_failure": "t",
                              "source": "shop", "type": "com.acme.order.created"}
    fields.update(extra)
    return DeadLetter(**fields)


def test_plain_replay_goes_back_into_the_failed_stage_with_the_same_event() -> None:
    replay = plan(_letter("validation"), ReplayRequest(), DESTINATIONS)
    assert (replay.subject, replay.stream, replay.msg_id) == ("hookmesh.ingress.shop", "HOOKMESH_INGRESS",
                                                             "replay:dl-1")
    assert replay.event.id == "ev-1" and not replay.edited
    routing = plan(_letter("routing"), ReplayRequest(), DESTINATIONS)
    assert routing.subject == "hookmesh.events.com.acme.order.created"


def test_redirect_sends_a_delivery_letter_to_another_destination() -> None:
    replay = plan(_letter("delivery", destination="billing"), ReplayRequest(destination="backup"), DESTINATIONS)
    assert (replay.subject, replay.stream, replay.destination) == ("hookmesh.deliver.backup", "HOOKMESH_DELIVER",
                                                                   "backup")
    assert replay.event.id == "ev-1" and replay.msg_id.startswith("replay:dl-1:")


def test_edit_makes_a_new_event_linked_to_the_old_keeping_its_other_attributes() -> None:
    request = request_decoder.decode(b'{"data": {"total": 5}}')
    replay = plan(_letter("validation"), request, DESTINATIONS)
    event = decode(encode(replay.event))
    assert event.id != "ev-1" and event.replayof == "ev-1" and replay.original_event_id == "ev-1"
    assert event.data_json() == {"total": 5}
    assert event.correlationid == "c-1" and bytes(event.extras["tenant"]) == b'"acme"'


def test_fingerprints_tell_equal_requests_from_different_ones() -> None:
    def fingerprint(body: bytes) -> str:
        return request_decoder.decode(body).fingerprint()

    assert fingerprint(b"{}") == "plain"
    assert fingerprint(b'{"data": {"a": 1, "b": 2}}') == fingerprint(b'{"data": {"b": 2, "a": 1}}')
    assert fingerprint(b'{"data": {"a": 1}}') != fingerprint(b'{"data": {"a": 2}}')
    assert fingerprint(b'{"destination": "x"}') != fingerprint(b'{"destination": "y"}')
    assert fingerprint(b'{"data": null}') != "plain"  # replacing data with null is an edit too


def test_refusals() -> None:
    with pytest.raises(Unprocessable, match="only delivery-stage"):
        plan(_letter("validation"), ReplayRequest(destination="backup"), DESTINATIONS)
    with pytest.raises(Unprocessable, match="unknown destination 'nowhere'"):
        plan(_letter("delivery", destination="billing"), ReplayRequest(destination="nowhere"), DESTINATIONS)
    with pytest.raises(Conflict, match="cannot be replayed"):
        plan(_letter("validation", replayable=False), ReplayRequest(), DESTINATIONS)
    with pytest.raises(msgspec.ValidationError):
        request_decoder.decode(b'{"destinaton": "x"}')
