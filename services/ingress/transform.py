"""Per-source `transform:`: a JSONata expression (jsonata-python) that maps a builder's payload into `data`.

Expressions are compiled once per distinct text and kept; an evaluation error is a 422 with its message.
An evaluation runs on ingress's event loop, so it is bounded: a runaway expression (an endless recursion,
a huge range) stops after TIMEOUT_MS or MAX_DEPTH nested steps with a 422 instead of stalling every
request. jsonata-python's own bound (`Jsonata(timeout=...)`) starts its clock when the expression is
compiled, not when it is evaluated, so a kept expression would time out for good after its first
TIMEOUT_MS; the library's Timebox is used directly and its clock reset for each evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jsonata
from jsonata.timebox import Timebox

from shared.errors import Unprocessable

TIMEOUT_MS = 250
MAX_DEPTH = 500


@dataclass(frozen=True)
class Transform:
    expression: jsonata.Jsonata
    bounds: Timebox

    def evaluate(self, payload: Any) -> Any:
        self.bounds.time, self.bounds.depth = Timebox.current_milli_time(), 0
        return self.expression.evaluate(payload)


@lru_cache(maxsize=256)
def compile_transform(expression: str) -> Transform:
    try:
        compiled = jsonata.Jsonata(expression)
    except Exception as exc:
        raise Unprocessable(f"the source's transform is not valid JSONata: {exc}") from None
    return Transform(compiled, Timebox(compiled.environment, TIMEOUT_MS, MAX_DEPTH))


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
