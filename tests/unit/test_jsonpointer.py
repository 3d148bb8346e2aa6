"""shared/jsonpointer.py against RFC 6901."""

from __future__ import annotations

from typing import Any

import pytest

from shared.jsonpointer import MISSING, build, resolve

# RFC 6901 section 5: the example document.
RFC_DOCUMENT: dict[str, Any] = {
    "foo": ["bar", "baz"],
    "": 0,
    "a/b": 1,
    "c%d": 2,
    "e^f": 3,
    "g|h": 4,
    "i\\j": 5,
    'k"l': 6,
    " ": 7,
    "m~n": 8,
}


@pytest.mark.parametrize(("pointer", "expected"), [
    ("", RFC_DOCUMENT),
    ("/foo", ["bar", "baz"]),
    ("/foo/0", "bar"),
    ("/foo/1", "baz"),
    ("/", 0),
    ("/a~1b", 1),
    ("/c%d", 2),
    ("/e^f", 3),
    ("/g|h", 4),
    ("/i\\j", 5),
    ('/k"l', 6),
    ("/ ", 7),
    ("/m~0n", 8),
])
def test_rfc6901_examples(pointer: str, expected: Any) -> None:
    assert resolve(RFC_DOCUMENT, pointer) == expected


def test_whole_document_is_the_same_object() -> None:
    assert resolve(RFC_DOCUMENT, "") is RFC_DOCUMENT


@pytest.mark.parametrize(("document", "pointer", "expected"), [
    ({"~1": "tilde-one", "/": "slash"}, "/~01", "tilde-one"),  # ~01 decodes to "~1", not "/"
    ({"~1": "tilde-one", "/": "slash"}, "/~1", "slash"),
    ({"a": {"b": {"c": [10, [20, 30]]}}}, "/a/b/c/1/0", 20),
    ({"a": None}, "/a", None),
    ({"a": False}, "/a", False),
    ([["x"]], "/0/0", "x"),
    ({"": {"": "deep"}}, "//", "deep"),
])
def test_resolve_nested_and_escaped(document: Any, pointer: str, expected: Any) -> None:
    assert resolve(document, pointer) == expected


@pytest.mark.parametrize("pointer", [
    "/nope",
    "/foo/2",
    "/foo/-",
    "/foo/bar",
    "/foo/-1",
    "/foo/0/x",
    "/a~1b/x",
    "foo",
    "/a/b",
])
def test_missing(pointer: str) -> None:
    assert resolve(RFC_DOCUMENT, pointer) is MISSING


@pytest.mark.parametrize("document", ["text", 5, None, True])
def test_scalars_have_no_children(document: Any) -> None:
    assert resolve(document, "/0") is MISSING


def test_leading_zero_index_is_not_an_index() -> None:
    assert resolve(["a", "b"], "/01") is MISSING


def test_non_ascii_digit_is_not_an_index() -> None:
    assert resolve(["a", "b", "c"], "/\u00b2") is MISSING


@pytest.mark.parametrize(("path", "pointer"), [
    ([], ""),
    (["foo"], "/foo"),
    (["foo", 0], "/foo/0"),
    (["a/b"], "/a~1b"),
    (["m~n"], "/m~0n"),
    (["~/"], "/~0~1"),
    ([""], "/"),
    ([" ", 3, "x"], "/ /3/x"),
])
def test_build(path: list[str | int], pointer: str) -> None:
    assert build(path) == pointer


@pytest.mark.parametrize("key", ["a/b", "m~n", "~1", "~0", "/~", "plain", ""])
def test_build_then_resolve_round_trip(key: str) -> None:
    document = {key: {"inner": [key]}}
    assert resolve(document, build([key, "inner", 0])) == key
