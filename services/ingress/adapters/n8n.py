"""n8n (HTTP Request node): JSON, form-urlencoded or multipart; execution id and mode mapped into headers.

`{{ $execution.id }}` → `X-N8N-Execution-Id`; `{{ $execution.mode }}` → `X-N8N-Execution-Mode`, which n8n
documents as `test` for a manual run in the editor and `production` otherwise: a test run publishes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.ingress.adapters.builder import Builder, first_header


def is_test(headers: Mapping[str, str], payload: Any) -> bool:
    return headers.get("X-N8N-Execution-Mode", "").strip().lower() == "test"


BUILDER = Builder("n8n", first_header("X-N8N-Execution-Id", "Idempotency-Key"), is_test)
