"""What every builder adapter provides; a plain record of two functions and one flag."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

IdReader = Callable[[Mapping[str, str], Any], str | None]
TestReader = Callable[[Mapping[str, str], Any], bool]


def first_header(*names: str) -> IdReader:
    """Read the first of these headers that is present and not empty."""

    def read(headers: Mapping[str, str], payload: Any) -> str | None:
        for name in names:
            value = headers.get(name, "").strip()
            if value:
                return value
        return None

    return read


def never(headers: Mapping[str, str], payload: Any) -> bool:
    return False


@dataclass(frozen=True)
class Builder:
    name: str
    source_event_id: IdReader
    is_test: TestReader = never
    unflatten_form: bool = False
