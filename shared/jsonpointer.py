"""RFC 6901 JSON pointers: resolve one against decoded JSON, and build one from a path."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MISSING: Any = object()
_INDEX = re.compile(r"0|[1-9][0-9]*")


def resolve(document: Any, pointer: str) -> Any:
    """The value at `pointer`, or MISSING. `""` is the whole document."""
    if pointer == "":
        return document
    if not pointer.startswith("/"):
        return MISSING
    node = document
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            if token not in node:
                return MISSING
            node = node[token]
        elif isinstance(node, list):
            if not _INDEX.fullmatch(token) or int(token) >= len(node):
                return MISSING
            node = node[int(token)]
        else:
            return MISSING
    return node


def build(path: Iterable[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)
