"""Any tool that can POST: the de-facto idempotency headers are its delivery id."""

from __future__ import annotations

from services.ingress.adapters.builder import Builder, first_header

# Idempotency-Key (IETF httpapi draft), webhook-id (Standard Webhooks), X-Request-Id (common practice).
BUILDER = Builder("generic", first_header("Idempotency-Key", "webhook-id", "X-Request-Id"))
