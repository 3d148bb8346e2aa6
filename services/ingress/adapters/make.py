"""Make (HTTP > Make a request): JSON, form or multipart; the execution id is mapped into a header.

Make adds no id header by itself; the scenario maps its Execution ID system variable into
`X-Make-Execution-Id` (docs/builders.md shows how). Retries of the same execution keep that id.
"""

from __future__ import annotations

from services.ingress.adapters.builder import Builder, first_header

BUILDER = Builder("make", first_header("X-Make-Execution-Id", "Idempotency-Key"))
