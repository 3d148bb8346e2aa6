"""Why a route matches an event or not, field by field (for `hookmesh routes test`).

Each leaf of the pattern is judged with the very matcher routing uses (compile_pattern on that part
alone), so the explanation cannot disagree with the routing decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from shared.patterns import MISSING, compile_pattern


@dataclass
class Line:
    path: str
    ok: bool
    expected: str
    actual: str
    depth: int = 0


@dataclass
class Explanation:
    matched: bool
    lines: list[Line] = field(default_factory=list)

    def first_failure(self) -> Line | None:
        """The first failing leaf: a failing nested pattern is explained by its own failing fields."""
        for i, line in enumerate(self.lines):
            if line.ok:
                continue
            deeper = [n for n in self.lines[i + 1:] if n.depth > line.depth]
            child = next((n for n in deeper if not n.ok), None)
            if child is None or self.lines[i + 1].depth <= line.depth:
                return line
        return None

    def render(self) -> str:
        out = []
        for line in self.lines:
            mark = "✓" if line.ok else "✗"
            pad = "  " * line.depth
            out.append(f"{pad}{mark} {line.path}: {line.actual} {'matches' if line.ok else 'does not match'} "
                       f"{line.expected}")
        out.append("MATCH" if self.matched else "NO MATCH")
        return "\n".join(out)


def explain(pattern: Mapping[str, Any], view: Mapping[str, Any]) -> Explanation:
    """`view` is the event as patterns see it: attributes, extensions and `data` (see RouteTable.view)."""
    lines: list[Line] = []
    _explain_object(pattern, view, "", 0, lines)
    if not pattern:
        lines.append(Line("(empty pattern)", True, "every event", "this event"))
    return Explanation(compile_pattern(pattern)(view), lines)


def _explain_object(pattern: Mapping[str, Any], event: Mapping[str, Any], path: str, depth: int,
                    lines: list[Line]) -> bool:
    results = []
    for key, spec in pattern.items():
        here = f"{path}.{key}" if path else key
        if key == "$or":
            lines.append(Line(here, True, "any of these alternatives", "", depth))
            at = len(lines) - 1
            alternatives = [_explain_object(alt, event, f"{here}[{i}]", depth + 1, lines)
                            for i, alt in enumerate(spec)]
            lines[at] = Line(here, any(alternatives), "at least one alternative",
                             f"{sum(alternatives)} of {len(alternatives)} alternatives", depth)
            results.append(any(alternatives))
        elif isinstance(spec, Mapping):
            ok = compile_pattern({key: spec})(event)
            lines.append(Line(here, ok, "the nested pattern", _show(event.get(key, MISSING)), depth))
            value = event.get(key)
            if isinstance(value, Mapping):
                _explain_object(spec, value, here, depth + 1, lines)
            results.append(ok)
        else:
            ok = compile_pattern({key: spec})(event)
            lines.append(Line(here, ok, _show_spec(spec), _show(event.get(key, MISSING)), depth))
            results.append(ok)
    return all(results)


def _show(value: Any) -> str:
    if value is MISSING:
        return "(absent)"
    text = msgspec.json.encode(value).decode()
    return text if len(text) <= 80 else text[:77] + "..."


def _show_spec(spec: Any) -> str:
    text = msgspec.json.encode(spec).decode()
    return ("any of " if isinstance(spec, list) and len(spec) > 1 else "") + text
