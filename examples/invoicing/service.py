"""Invoicing: one invoice per order event, whatever NATS redelivers, built on shared.consumer.

The invoice is derived from the event alone (its number from the event id), so the one side effect
is idempotent too: a second call for the same event could only write the same invoice again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nats.aio.client import Client as NATS

from shared import tracing
from shared.consumer import EventConsumer, Retry
from shared.envelope import CloudEvent

log = logging.getLogger("hookmesh.example.invoicing")

NAME = "invoicing"
DEFAULT_TYPES = ("com.example.order.created",)  # what the `hookmesh up` demo source emits


@dataclass(frozen=True)
class Invoice:
    number: str
    order_id: str
    net: float
    tax: float
    gross: float
    currency: str
    event_id: str
    trace_id: str


def invoice_for(event: CloudEvent, *, tax_rate: float) -> Invoice:
    """The invoice of an order event; raises Retry when the order has no total to invoice yet."""
    order = event.data_json() or {}
    if not isinstance(order, dict) or not isinstance(order.get("total"), int | float):
        raise Retry(60.0, "the order has no numeric total")
    net = round(float(order["total"]), 2)
    tax = round(net * tax_rate, 2)
    return Invoice(number=f"INV-{event.id.replace('-', '')[:16].upper()}", order_id=str(order.get("order_id", "")),
                   net=net, tax=tax, gross=round(net + tax, 2), currency=str(order.get("currency", "EUR")),
                   event_id=event.id, trace_id=tracing.current_ids()[0])


class InvoicingService:
    def __init__(self, nc: NATS, *, types: tuple[str, ...] | list[str] = DEFAULT_TYPES, tax_rate: float = 0.2,
                 create: bool = True) -> None:
        self.tax_rate = tax_rate
        self.invoices: dict[str, Invoice] = {}  # by order event id; a real service writes to its database
        self.calls = 0
        self.consumer = EventConsumer(nc, name=NAME, types=list(types), handler=self.on_order, create=create)

    async def on_order(self, event: CloudEvent) -> None:
        self.calls += 1
        invoice = invoice_for(event, tax_rate=self.tax_rate)
        self.invoices[event.id] = invoice
        log.info("invoice %s for order %s: %.2f + %.2f tax = %.2f %s", invoice.number, invoice.order_id,
                 invoice.net, invoice.tax, invoice.gross, invoice.currency,
                 extra={"event_id": event.id, "trace_id": invoice.trace_id})

    async def start(self) -> None:
        await self.consumer.start()

    async def stop(self, grace: float = 10.0) -> None:
        await self.consumer.stop(grace)
