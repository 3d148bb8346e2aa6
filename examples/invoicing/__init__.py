"""An order-to-invoice consumer service: reads order events from hookmesh.events.> and invoices each once."""
