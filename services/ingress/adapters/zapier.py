"""Zapier (Webhooks by Zapier, POST action): form by default, JSON on request; `__` in keys means nesting.

Zapier sends no delivery id of its own, so the Zap maps one into an `Idempotency-Key` header (for example
the trigger record's id). The POST action's form payload keeps keys such as `customer__email` flat (its
"Unflatten" option only applies to JSON), so hookmesh unflattens them: {"customer": {"email": ...}}.
"""

from __future__ import annotations

from services.ingress.adapters.builder import Builder, first_header

BUILDER = Builder("zapier", first_header("Idempotency-Key", "X-Zapier-Idempotency-Key"), unflatten_form=True)
