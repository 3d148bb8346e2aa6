"""services/deadletter/store.py: the in-memory index answers filtered, paged queries in stream order."""

from __future__ import annotations

import msgspec

from services.deadletter.filters import Filter, parse_timestamp
from services.deadletter.store import DeadLetterIndex, Status, present
from shared.deadletters import DeadLetter


def _letter(n: int, *, stage: str = "validation", second: int = 0) -> bytes:
    return msgspec.json.encode(DeadLetter(
        id=f"dl-{n}", event_id=f"ev-{n}", event=msgspec.Raw(b"{}"), stage=stage, reason="r", error="e",
        first_failure="2024-01-01T00:00:00Z", last_failure=f"2024-01-01T00:00:{second:02d}Z", source="shop"))


def _index(count: int) -> DeadLetterIndex:
    index = DeadLetterIndex()
    for n in range(1, count + 1):
        assert index.add(n, _letter(n, stage="delivery" if n % 2 else "validation", second=n)) is not None
    return index


def test_query_pages_newest_first_with_a_cursor() -> None:
    index = _index(5)
    page, cursor = index.query(Filter(), limit=2, before_seq=None)
    assert [e.id for e in page] == ["dl-5", "dl-4"] and cursor == 4
    page, cursor = index.query(Filter(), limit=2, before_seq=cursor)
    assert [e.id for e in page] == ["dl-3", "dl-2"] and cursor == 2
    page, cursor = index.query(Filter(), limit=2, before_seq=cursor)
    assert [e.id for e in page] == ["dl-1"] and cursor is None


def test_filters_status_and_time_window() -> None:
    index = _index(5)
    index.statuses["dl-3"] = Status(status="replayed", at="x")
    delivery = Filter({"stage": "delivery"})
    assert [e.id for e in index.select(delivery, limit=10)] == ["dl-1", "dl-3", "dl-5"]  # oldest first
    assert [e.id for e in index.select(delivery.with_status("pending"), limit=10)] == ["dl-1", "dl-5"]
    assert [e.id for e in index.select(delivery.with_status("pending"), limit=1)] == ["dl-1"]
    window = Filter(since=parse_timestamp("2024-01-01T00:00:03Z"), until=parse_timestamp("2024-01-01T00:00:05Z"))
    assert [e.id for e in index.select(window, limit=10)] == ["dl-3", "dl-4"]
    assert index.counts() == {("r", "pending"): 4, ("r", "replayed"): 1}


def test_prune_forgets_what_the_stream_no_longer_holds_and_duplicates_are_kept_once() -> None:
    index = _index(5)
    index.add(6, _letter(5))  # the same dead letter read again (a redelivered ordered consumer message)
    assert len(index.order) == 5
    assert index.prune(first_seq=4) == 3
    assert index.order == ["dl-4", "dl-5"] and set(index.by_id) == {"dl-4", "dl-5"}
    assert index.add(7, b"not json") is None


def test_present_shows_status_and_what_a_replay_sent() -> None:
    letter = msgspec.json.decode(_letter(1), type=DeadLetter)
    assert present(letter, None)["status"] == "pending"
    shown = present(letter, Status(status="replayed", at="t", replay_subject="s", event_id="new", edited=True))
    assert shown["status"] == "replayed" and shown["status_at"] == "t"
    assert shown["replay"] == {"subject": "s", "event_id": "new", "edited": True}

