"""Per-source `transform:`: a JSONata expression (jsonata-python) that maps a builder's payload into `data`.

Expressions are compiled once per distinct text and kept; an evaluation error is a 422 with its message.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jsonata

from shared.errors import Unprocessable


@lru_cache(maxsize=256)
def compile_transform(expression: str) -> jsonata.Jsonata:
    try:
        return jsonata.Jsonata(expression)
    except Exception as exc:
        raise Unprocessable(f"the source's transform is not valid JSONata: {exc}") from None


def apply_transform(expression: str | None, payload: Any) -> Any:
    """The payload mapped by the expression; the payload itself when there is none."""
    if expression is None:
        return payload
    compiled = compile_transform(expression)
    try:
        result = compiled.evaluate(payload)
    except Exception as exc:  # jsonata-python raises JException, ValueError, TypeError, ...
        raise Unprocessable(f"the transform failed on this payload: {exc}",
                            extra={"transform_error": str(exc)}) from None
    if result is None:
        raise Unprocessable("the transform produced nothing for this payload (an empty result); check the paths "
                            "it reads against the payload the builder sends")
    return result
