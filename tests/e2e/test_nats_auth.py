"""`hookmesh nats-auth`: a real nats-server with the generated block lets a consumer service read what
it was granted, and refuses everything else."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterator
from pathlib import Path

import msgspec
import nats
import nats.errors
import pytest
from nats.aio.msg import Msg

from examples.invoicing.service import InvoicingService
from shared import consumer, nats_runtime, subjects
from shared.cli.natsauth import password_env
from shared.consumer import ConsumerNotProvisioned, EventConsumer
from shared.embedded_nats import EmbeddedNats, free_port
from shared.envelope import encode, new_event, new_event_id
from shared.natsperms import service_user
from shared.settings import SERVICES
from tests.support.cli import hookmesh
from tests.support.polling import eventually

CREATED, SHIPPED = "com.acme.order.created", "com.acme.order.shipped"
CONFIG = f"""
consumers:
  - name: invoicing
    types: [{CREATED}]
  - name: shipping
    types: [{SHIPPED}]
"""
PASSWORDS = {"HOOKMESH_NATS_PASSWORD": "admin-pw", "HOOKMESH_NATS_PASSWORD_INVOICING": "invoicing-pw",
             "HOOKMESH_NATS_PASSWORD_SHIPPING": "shipping-pw",
             **{password_env(service_user(s)): f"{s}-pw" for s in SERVICES}}


@pytest.fixture
def secured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[EmbeddedNats, Path]]:
    for name, value in PASSWORDS.items():
        monkeypatch.setenv(name, value)  # nats-server reads the passwords from its environment
    config = tmp_path / "hookmesh.yaml"
    config.write_text(CONFIG)
    server = EmbeddedNats(tmp_path / "js", port=free_port(), extra_args=["-c", str(tmp_path / "auth.conf")],
                          log_file=tmp_path / "nats.log")
    yield server, config
    server.stop()


def _order(event_type: str, total: float) -> bytes:
    return encode(new_event(id=new_event_id(), source="/hookmesh/sources/shop", type=event_type,
                            data=msgspec.Raw(msgspec.json.encode({"order_id": "A-1", "total": total}))))


async def test_generated_block_grants_the_configured_types_and_refuses_the_rest(
        secured: tuple[EmbeddedNats, Path], tmp_path: Path) -> None:
    server, config = secured
    auth_file = tmp_path / "auth.conf"
    generated = await hookmesh("nats-auth", "-f", str(config), "-o", str(auth_file))
    assert generated.code == 0, generated.stderr
    block = auth_file.read_text()
    assert 'user: "invoicing"' in block and "$HOOKMESH_NATS_PASSWORD_INVOICING" in block
    assert "invoicing-pw" not in block  # passwords are named, never written
    server.start()
    admin_url = f"nats://hookmesh:admin-pw@127.0.0.1:{server.port}"
    provisioned = await hookmesh("nats-auth", "-f", str(config), "--provision", env={"NATS_URL": admin_url})
    assert provisioned.code == 0, provisioned.stderr
    assert "provisioned consumer_invoicing" in provisioned.stderr

    admin = await nats_runtime.connect(admin_url, "admin")
    js = admin.jetstream()
    await js.publish(subjects.events(CREATED), _order(CREATED, 100.0), stream=subjects.EVENTS_STREAM)
    await js.publish(subjects.events(SHIPPED), _order(SHIPPED, 5.0), stream=subjects.EVENTS_STREAM)

    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    url = f"nats://127.0.0.1:{server.port}"
    nc = await consumer.connect(url, "invoicing", user="invoicing", password="invoicing-pw", error_cb=on_error)
    invoicing = InvoicingService(nc, types=[CREATED], create=False)
    try:
        # Granted: the provisioned durable, pulls, acks and the idempotency bucket all work.
        await invoicing.start()
        await eventually(lambda: len(invoicing.invoices) == 1, what="the granted order to be invoiced")
        [invoice] = invoicing.invoices.values()
        assert invoice.gross == 120.0

        # Not granted: reading shipping events through its own durable, widening it, or another consumer.
        with pytest.raises(ConsumerNotProvisioned, match="not all granted"):
            await EventConsumer(nc, name="invoicing", types=[CREATED, SHIPPED], handler=invoicing.on_order,
                                api_timeout=0.5).start()
        with pytest.raises(ConsumerNotProvisioned):
            await EventConsumer(nc, name="shipping", types=[SHIPPED], handler=invoicing.on_order,
                                api_timeout=0.5).start()
        restricted = nc.jetstream(timeout=0.5)
        with pytest.raises(nats.errors.TimeoutError):  # the server drops the request: no answer
            await restricted.get_msg(subjects.EVENTS_STREAM, 2)
        info = await admin.jetstream().consumer_info(subjects.EVENTS_STREAM, subjects.consumer_durable("invoicing"))
        assert info.config.filter_subjects == [subjects.events(CREATED)]  # unchanged by the attempts above

        # Core NATS: the granted subject can be subscribed to, the other one is refused by the server.
        created: list[str] = []
        shipped: list[str] = []
        await nc.subscribe(subjects.events(SHIPPED), cb=functools.partial(_append, shipped))
        await nc.subscribe(subjects.events(CREATED), cb=functools.partial(_append, created))
        await nc.flush()
        await js.publish(subjects.events(SHIPPED), _order(SHIPPED, 6.0), stream=subjects.EVENTS_STREAM)
        await js.publish(subjects.events(CREATED), _order(CREATED, 7.0), stream=subjects.EVENTS_STREAM)
        await eventually(lambda: created, what="the granted core subscription to receive")
        assert shipped == []  # published before the created one by the same client: it would be here by now
        refused = await eventually(lambda: [e.lower() for e in errors if "for subscription" in e.lower()],
                                   what="the server to refuse the shipping subscription")
        assert refused == [f'nats: permissions violation for subscription to "hookmesh.events.{SHIPPED}"']
        denied = {e.lower().split('"')[1] for e in errors if "for publish" in e.lower()}
        assert denied == {"$js.api.consumer.create.hookmesh_events.consumer_invoicing",  # widening its filter
                          "$js.api.consumer.info.hookmesh_events.consumer_shipping",  # another's durable
                          "$js.api.stream.msg.get.hookmesh_events"}  # reading the stream directly
    finally:
        await invoicing.stop(grace=1)
        await nc.close()
        await admin.close()


async def _append(into: list[str], msg: Msg) -> None:
    into.append(msg.data.decode())


async def test_wrong_password_is_refused(secured: tuple[EmbeddedNats, Path], tmp_path: Path) -> None:
    server, config = secured
    assert (await hookmesh("nats-auth", "-f", str(config), "-o", str(tmp_path / "auth.conf"))).code == 0
    server.start()
    with pytest.raises((nats.errors.Error, OSError, asyncio.TimeoutError)):
        await consumer.connect(f"nats://127.0.0.1:{server.port}", "invoicing", user="invoicing", password="nope",
                               connect_timeout=1)
