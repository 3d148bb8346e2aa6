"""shared/cli/natsauth.py: the authorization block grants each consumer service its own things only."""

from __future__ import annotations

from shared.cli.natsauth import authorization_block, consumer_permissions, password_env
from shared.config import Consumer


def test_permissions_name_only_the_consumers_own_durable_bucket_inbox_and_types() -> None:
    publish, subscribe = consumer_permissions(Consumer(name="invoicing", types=["com.acme.order.created",
                                                                               "com.acme.order.>"]))
    assert subscribe == ["_INBOX_invoicing.>", "hookmesh.events.com.acme.order.>",
                         "hookmesh.events.com.acme.order.created"]
    assert all("consumer_invoicing" in p or "hookmesh_processed_invoicing" in p for p in publish)
    assert not any("CONSUMER.CREATE" in p or "HOOKMESH_EVENTS.>" in p or p.endswith("STREAM.MSG.GET.HOOKMESH_EVENTS")
                   for p in publish)
    assert "$JS.API.CONSUMER.MSG.NEXT.HOOKMESH_EVENTS.consumer_invoicing" in publish
    assert "$JS.ACK.HOOKMESH_EVENTS.consumer_invoicing.>" in publish


def test_block_names_password_variables_and_quotes_subjects() -> None:
    block = authorization_block([Consumer(name="fraud-check", types=["com.acme.payment.failed"])])
    assert "password: $HOOKMESH_NATS_PASSWORD}" in block  # the hookmesh services, unrestricted
    assert password_env("fraud-check") == "HOOKMESH_NATS_PASSWORD_FRAUD_CHECK"
    assert "password: $HOOKMESH_NATS_PASSWORD_FRAUD_CHECK" in block
    assert '"$JS.API.CONSUMER.INFO.HOOKMESH_EVENTS.consumer_fraud-check"' in block
    assert block.count("{") == block.count("}")
