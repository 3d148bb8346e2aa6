"""Power Automate (HTTP action; the Logic Apps engine): sends its run and action tracking ids itself.

Every outbound request carries `x-ms-workflow-run-id` and `x-ms-action-tracking-id` (one per action
instance, kept across the action's retries), so together they identify one delivery, loops included.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.ingress.adapters.builder import Builder


def source_event_id(headers: Mapping[str, str], payload: Any) -> str | None:
    run = headers.get("x-ms-workflow-run-id", "").strip()
    action = headers.get("x-ms-action-tracking-id", "").strip()
    if run:
        return f"{run}:{action}" if action else run
    return headers.get("x-ms-client-tracking-id", "").strip() or headers.get("Idempotency-Key", "").strip() or None


BUILDER = Builder("power-automate", source_event_id)
