"""shared/consumer.py: the pure parts — idempotency keys, filters and the durable's configuration."""

from __future__ import annotations

import pytest
from nats.aio.client import Client as NATS

from shared.consumer import EventConsumer, durable_config, filter_subjects, record_key


def test_record_keys_are_the_event_id_or_a_hash_of_it() -> None:
    assert record_key("01a213e5-7c2b-7000-8000-000000000001") == "01a213e5-7c2b-7000-8000-000000000001"
    hashed = record_key("zapier id with spaces/*")
    assert hashed.startswith("h_") and len(hashed) == 66 and hashed == record_key("zapier id with spaces/*")
    assert record_key(".hidden").startswith("h_")


def test_the_durable_reads_only_the_granted_types() -> None:
    assert filter_subjects(["b.x", "a.y", "b.x"]) == ["hookmesh.events.a.y", "hookmesh.events.b.x"]
    # JetStream refuses overlapping filters: a wildcard swallows what it covers, and only that.
    assert filter_subjects(["com.acme.>", "com.acme.order.created", "com.other.x"]) == [
        "hookmesh.events.com.acme.>", "hookmesh.events.com.other.x"]
    assert filter_subjects(["com.*.created", "com.acme.created", "com.acme.order.created"]) == [
        "hookmesh.events.com.*.created", "hookmesh.events.com.acme.order.created"]
    config = durable_config("invoicing", ["com.acme.order.created"], lease=12.0)
    assert config.durable_name == "consumer_invoicing" and config.ack_wait == 12.0
    assert config.filter_subjects == ["hookmesh.events.com.acme.order.created"] and config.filter_subject is None


async def test_bad_names_and_empty_types_are_refused() -> None:
    async def handler(event: object) -> None:
        return None

    with pytest.raises(ValueError, match="not a valid consumer name"):
        EventConsumer(NATS(), name="Invoicing!", types=["a"], handler=handler)
    with pytest.raises(ValueError, match="at least one event type"):
        EventConsumer(NATS(), name="invoicing", types=[], handler=handler)
