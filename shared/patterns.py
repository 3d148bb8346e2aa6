"""EventBridge-style content patterns, compiled once into plain closures.

A pattern is a mapping from field names to either a nested pattern (for nested objects) or a list
of matchers, any of which may match. Matchers: exact values, `prefix`, `suffix`,
`equals-ignore-case`, `anything-but` (values, `prefix`, `suffix`, `equals-ignore-case`, `wildcard`),
`numeric` (`<`, `<=`, `=`, `>=`, `>`, and ranges), `exists`, `wildcard`, `cidr`; `$or` takes a list of
patterns. A field whose value is an array matches when any element does (EventBridge semantics).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

MISSING: Any = object()
Predicate = Callable[[Any], bool]
Matcher = Callable[[Mapping[str, Any]], bool]

_NUMERIC_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "=": lambda a, b: a == b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
}


class PatternError(ValueError):
    """A malformed pattern; `path` points at the bad part (for example `.data.total[0].numeric`)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path or '.'}: {reason}")
        self.path = path
        self.reason = reason


def compile_pattern(pattern: Any) -> Matcher:
    """Compile a pattern; an empty pattern matches every event."""
    if not isinstance(pattern, Mapping):
        raise PatternError("", "a pattern is a mapping of field names to lists of matchers")
    return _compile_object(pattern, "")


def _compile_object(pattern: Mapping[str, Any], path: str) -> Matcher:
    parts: list[Matcher] = []
    for key, spec in pattern.items():
        here = f"{path}.{key}"
        if key == "$or":
            if not isinstance(spec, list) or len(spec) < 2:
                raise PatternError(here, "$or takes a list of at least two patterns")
            alternatives = []
            for i, sub in enumerate(spec):
                if not isinstance(sub, Mapping):
                    raise PatternError(f"{here}[{i}]", "each $or alternative is a pattern (a mapping)")
                alternatives.append(_compile_object(sub, f"{here}[{i}]"))
            parts.append(lambda event, alts=tuple(alternatives): any(a(event) for a in alts))
        elif isinstance(spec, Mapping):
            parts.append(_nested(key, _compile_object(spec, here)))
        elif isinstance(spec, list):
            parts.append(_compile_field(key, spec, here))
        else:
            raise PatternError(here, "a field's matchers are written as a list, for example [\"value\"]")
    frozen = tuple(parts)
    return lambda event: all(p(event) for p in frozen)


def _nested(key: str, inner: Matcher) -> Matcher:
    """A nested pattern: an absent (or non-object) field is an empty object, so `exists: false` below it
    matches; an array of objects matches when any of its objects does."""

    def matcher(event: Mapping[str, Any]) -> bool:
        value = event.get(key)
        if isinstance(value, Mapping):
            return inner(value)
        if isinstance(value, list) and any(isinstance(v, Mapping) for v in value):
            return any(inner(v) for v in value if isinstance(v, Mapping))
        return inner(_EMPTY)

    return matcher


_EMPTY: Mapping[str, Any] = {}


def _compile_field(key: str, spec: list[Any], path: str) -> Matcher:
    if not spec:
        raise PatternError(path, "an empty list matches nothing; name at least one value")
    predicates: list[Predicate] = []
    exists: bool | None = None
    for i, item in enumerate(spec):
        here = f"{path}[{i}]"
        if isinstance(item, Mapping) and "exists" in item:
            if len(item) != 1 or not isinstance(item["exists"], bool):
                raise PatternError(here, "exists takes true or false, alone")
            exists = item["exists"]
        else:
            predicates.append(_compile_matcher(item, here))
    preds = tuple(predicates)

    def test_value(value: Any) -> bool:
        if isinstance(value, list):
            return any(p(v) for v in value for p in preds)
        return any(p(value) for p in preds)

    def matcher(event: Mapping[str, Any]) -> bool:
        value = event.get(key, MISSING)
        if value is MISSING:
            return exists is False
        if exists is True and (not preds or test_value(value)):
            return True
        if exists is False:
            return bool(preds) and test_value(value)
        return test_value(value)

    return matcher


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _exact(expected: Any) -> Predicate:
    if isinstance(expected, bool) or expected is None:
        return lambda v: v is expected
    if isinstance(expected, int | float):
        return lambda v: isinstance(v, int | float) and not isinstance(v, bool) and v == expected
    return lambda v: v == expected


def _compile_matcher(item: Any, path: str) -> Predicate:
    if _scalar(item):
        return _exact(item)
    if not isinstance(item, Mapping) or len(item) != 1:
        raise PatternError(path, "a matcher is a value or a mapping with one key such as prefix or numeric")
    (op, arg), = item.items()
    here = f"{path}.{op}"
    if op == "prefix":
        return _affix(arg, here, str.startswith)
    if op == "suffix":
        return _affix(arg, here, str.endswith)
    if op == "equals-ignore-case":
        if not isinstance(arg, str):
            raise PatternError(here, "equals-ignore-case takes a string")
        folded = arg.casefold()
        return lambda v: isinstance(v, str) and v.casefold() == folded
    if op == "wildcard":
        return _wildcard(arg, here)
    if op == "numeric":
        return _numeric(arg, here)
    if op == "cidr":
        if not isinstance(arg, str):  # ip_network would take 10 or true as an address
            raise PatternError(here, f"{arg!r} is not a CIDR block such as 10.0.0.0/24")
        try:
            network = ipaddress.ip_network(arg, strict=False)
        except (ValueError, TypeError):
            raise PatternError(here, f"{arg!r} is not a CIDR block such as 10.0.0.0/24") from None
        return lambda v: _in_network(v, network)
    if op == "anything-but":
        return _anything_but(arg, here)
    raise PatternError(here, f"unknown matcher {op!r}; use prefix, suffix, equals-ignore-case, anything-but, "
                       "numeric, exists, wildcard or cidr")


def _affix(arg: Any, path: str, test: Callable[[str, str], bool]) -> Predicate:
    if isinstance(arg, Mapping) and set(arg) == {"equals-ignore-case"} and isinstance(
            arg["equals-ignore-case"], str):
        folded = arg["equals-ignore-case"].casefold()
        return lambda v: isinstance(v, str) and test(v.casefold(), folded)
    if not isinstance(arg, str):
        raise PatternError(path, "takes a string (or {equals-ignore-case: string})")
    return lambda v: isinstance(v, str) and test(v, arg)


def _wildcard(arg: Any, path: str) -> Predicate:
    if not isinstance(arg, str):
        raise PatternError(path, "wildcard takes a string such as dir/*.png")
    if "**" in arg:
        raise PatternError(path, "consecutive * are not allowed in a wildcard")
    pieces = re.split(r"(?<!\\)\*", arg)
    regex = re.compile(".*".join(re.escape(p.replace("\\*", "*")) for p in pieces), re.DOTALL)
    return lambda v: isinstance(v, str) and regex.fullmatch(v) is not None


def _numeric(arg: Any, path: str) -> Predicate:
    if not isinstance(arg, list) or not arg or len(arg) % 2 or len(arg) > 4:
        raise PatternError(path, "numeric takes one or two comparisons, for example [\">\", 0, \"<=\", 5]")
    checks: list[tuple[Callable[[float, float], bool], float]] = []
    for i in range(0, len(arg), 2):
        op, bound = arg[i], arg[i + 1]
        if op not in _NUMERIC_OPS:
            raise PatternError(f"{path}[{i}]", f"unknown comparison {op!r}; use <, <=, =, >= or >")
        if isinstance(bound, bool) or not isinstance(bound, int | float) or not math.isfinite(bound):
            raise PatternError(f"{path}[{i + 1}]", f"{bound!r} is not a finite number")
        checks.append((_NUMERIC_OPS[op], float(bound)))
    frozen = tuple(checks)
    return lambda v: (isinstance(v, int | float) and not isinstance(v, bool)
                      and all(fn(v, b) for fn, b in frozen))


def _in_network(value: Any, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return ipaddress.ip_address(value) in network
    except ValueError:
        return False


def _anything_but(arg: Any, path: str) -> Predicate:
    if _scalar(arg):
        inner = _exact(arg)
    elif isinstance(arg, list):
        if not arg or not all(_scalar(a) for a in arg):
            raise PatternError(path, "anything-but takes a value, a list of values, or one of prefix, "
                               "suffix, equals-ignore-case, wildcard")
        exacts = tuple(_exact(a) for a in arg)
        inner = lambda v: any(e(v) for e in exacts)  # noqa: E731
    elif isinstance(arg, Mapping) and len(arg) == 1 and next(iter(arg)) in (
            "prefix", "suffix", "equals-ignore-case", "wildcard"):
        (op, value), = arg.items()
        if op == "equals-ignore-case" and isinstance(value, list):
            folded = {str(x).casefold() for x in value}
            inner = lambda v: isinstance(v, str) and v.casefold() in folded  # noqa: E731
        else:
            inner = _compile_matcher({op: value}, path)
    else:
        raise PatternError(path, "anything-but takes a value, a list of values, or one of prefix, suffix, "
                           "equals-ignore-case, wildcard")
    return lambda v: not inner(v)


def references_data(pattern: Mapping[str, Any]) -> bool:
    """Whether matching needs the event's data decoded (a `data` key anywhere, including under $or)."""
    if "data" in pattern:
        return True
    alternatives = pattern.get("$or")
    return isinstance(alternatives, list) and any(
        isinstance(a, Mapping) and references_data(a) for a in alternatives)
