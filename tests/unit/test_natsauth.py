"""shared/natsperms.py and shared/cli/natsauth.py: each NATS user is granted its own things only."""

from __future__ import annotations

import pytest

from shared.cli.natsauth import authorization_block, helm_values, password_env, users
from shared.config import Consumer
from shared.natsperms import consumer_permissions, service_permissions
from shared.settings import SERVICES


def test_permissions_name_only_the_consumers_own_durable_bucket_inbox_and_types() -> None:
    perms = consumer_permissions(Consumer(name="invoicing", types=["com.acme.order.created", "com.acme.order.>"]))
    publish, subscribe = perms.publish, perms.subscribe
    assert subscribe == ["_INBOX_invoicing.>", "hookmesh.events.com.acme.order.>",
                         "hookmesh.events.com.acme.order.created"]
    assert all("consumer_invoicing" in p or "hookmesh_processed_invoicing" in p for p in publish)
    assert not any("CONSUMER.CREATE" in p or "HOOKMESH_EVENTS.>" in p or p.endswith("STREAM.MSG.GET.HOOKMESH_EVENTS")
                   for p in publish)
    assert "$JS.API.CONSUMER.MSG.NEXT.HOOKMESH_EVENTS.consumer_invoicing" in publish
    assert "$JS.ACK.HOOKMESH_EVENTS.consumer_invoicing.>" in publish


@pytest.mark.parametrize("service", SERVICES)
def test_no_service_may_change_streams_or_read_everyones_replies(service: str) -> None:
    perms = service_permissions(service)
    forbidden = ("$JS.API.>", "$JS.API.STREAM.CREATE", "$JS.API.STREAM.UPDATE", "$JS.API.STREAM.DELETE",
                 "$JS.API.STREAM.PURGE", "$JS.API.STREAM.*", ">", "hookmesh.>", "$KV.>")
    assert not [p for p in perms.publish if p.startswith(forbidden)]
    assert perms.subscribe[0] == f"_INBOX_hookmesh_{service}.>"
    assert "_INBOX.>" not in perms.subscribe and ">" not in perms.subscribe
    assert len(perms.publish) == len(set(perms.publish))


def test_each_stage_publishes_only_to_the_next_and_its_own_dead_letters() -> None:
    def subjects(service: str) -> set[str]:
        return {p for p in service_permissions(service).publish if p.startswith("hookmesh.")}

    # ingress answers what it refuses (4xx) rather than dead-lettering it
    assert subjects("ingress") == {"hookmesh.ingress.>", "hookmesh.rpc.validate"}
    assert subjects("validation") == {"hookmesh.events.>", "hookmesh.dlq.validation.>"}
    assert subjects("routing") == {"hookmesh.deliver.>", "hookmesh.dlq.routing.>"}
    assert subjects("delivery") == {"hookmesh.dlq.delivery.>", "hookmesh.events.com.hookmesh.>"}
    # replay puts a dead letter back where it failed; it never writes dead letters itself
    assert subjects("deadletter") == {"hookmesh.ingress.>", "hookmesh.events.>", "hookmesh.deliver.>"}
    assert service_permissions("validation").allow_responses  # answers ingress's dry runs
    assert not any(service_permissions(s).allow_responses for s in SERVICES if s != "validation")
    # only the dead-letter service may delete a message, and only a dead letter
    deleting = {s: [p for p in service_permissions(s).publish if ".MSG.DELETE." in p] for s in SERVICES}
    assert deleting == {**{s: [] for s in SERVICES}, "deadletter": ["$JS.API.STREAM.MSG.DELETE.HOOKMESH_DLQ"]}


def test_block_names_password_variables_and_quotes_subjects() -> None:
    block = authorization_block([Consumer(name="fraud-check", types=["com.acme.payment.failed"])])
    assert "password: $HOOKMESH_NATS_PASSWORD\n" in block  # the admin user, unrestricted
    assert password_env("fraud-check") == "HOOKMESH_NATS_PASSWORD_FRAUD_CHECK"
    assert "password: $HOOKMESH_NATS_PASSWORD_FRAUD_CHECK" in block
    assert "password: $HOOKMESH_NATS_PASSWORD_HOOKMESH_INGRESS" in block
    assert '"$JS.API.CONSUMER.INFO.HOOKMESH_EVENTS.consumer_fraud-check"' in block
    assert block.count("{") == block.count("}")
    assert block.count("allow_responses: true") == 1


def test_helm_values_fill_every_password_from_the_secret() -> None:
    values = helm_values([Consumer(name="invoicing", types=["com.acme.order.created"])])
    entries = values["config"]["merge"]["authorization"]["users"]  # type: ignore[index]
    env = values["container"]["env"]  # type: ignore[index]
    assert [e["user"] for e in entries] == ["hookmesh", *(f"hookmesh-{s}" for s in SERVICES), "invoicing"]
    for entry in entries:
        variable = entry["password"].removeprefix("<< $").removesuffix(" >>")
        assert env[variable]["valueFrom"]["secretKeyRef"] == {"name": "hookmesh-secrets",
                                                              "key": f"nats-password-{entry['user']}"}


def test_consumer_names_cannot_take_hookmeshs_own_users() -> None:
    with pytest.raises(SystemExit, match="hookmesh-ingress"):
        users([Consumer(name="hookmesh-ingress", types=["a.b"])])
