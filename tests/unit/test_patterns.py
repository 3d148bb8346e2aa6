"""shared/patterns.py: EventBridge content filtering.

The match tables follow the examples in AWS's "Content filtering in Amazon EventBridge event patterns"
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html),
its comparison-operator table, and the pages on arrays and on null values and empty strings.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.patterns import PatternError, compile_pattern, references_data

EC2_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "123456789012",
    "time": "2015-11-11T21:29:54Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
    "detail": {"instance-id": "i-abcd1111", "state": "pending"},
}

NUMERIC = {"detail": {
    "c-count": [{"numeric": [">", 0, "<=", 5]}],
    "d-count": [{"numeric": ["<", 10]}],
    "x-limit": [{"numeric": ["=", 3.018e2]}],
}}

COMPLEX = {
    "time": [{"prefix": "2017-10-02"}],
    "detail": {
        "state": [{"anything-but": "initializing"}],
        "c-count": [{"numeric": [">", 0, "<=", 5]}],
        "d-count": [{"numeric": ["<", 10]}],
        "x-limit": [{"anything-but": [100, 200, 300]}],
    },
}

RESOURCES_PATTERN = {"resources": [
    "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
    "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f",
    "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f",
]}


def detail(**fields: Any) -> dict[str, Any]:
    return {"detail": fields}


CASES: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    # ---- exact values: keys are AND, list entries are OR
    ("exact", {"source": ["aws.ec2"]}, EC2_EVENT, True),
    ("exact-other", {"source": ["aws.s3"]}, EC2_EVENT, False),
    ("exact-or", {"source": ["aws.ec2", "aws.fargate"]}, {"source": "aws.fargate"}, True),
    ("exact-nested-and", {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"],
                          "detail": {"state": ["pending"]}}, EC2_EVENT, True),
    ("exact-nested-and-one-fails", {"source": ["aws.ec2"], "detail": {"state": ["terminated"]}}, EC2_EVENT, False),
    ("exact-case-sensitive", {"source": ["AWS.EC2"]}, EC2_EVENT, False),
    ("exact-number", {"count": [5]}, {"count": 5}, True),
    ("exact-number-float", {"count": [5]}, {"count": 5.0}, True),
    ("exact-number-vs-string", {"count": [5]}, {"count": "5"}, False),
    ("exact-string-vs-number", {"count": ["5"]}, {"count": 5}, False),
    ("exact-true", {"flag": [True]}, {"flag": True}, True),
    ("exact-true-vs-1", {"flag": [True]}, {"flag": 1}, False),
    ("exact-1-vs-true", {"count": [1]}, {"count": True}, False),
    ("empty-pattern", {}, EC2_EVENT, True),
    ("nested-object-expected", {"detail": {"state": ["pending"]}}, {"detail": "pending"}, False),
    # ---- null values and empty strings are not interchangeable
    ("empty-string", detail(eventVersion=[""]), detail(eventVersion="", responseElements=None), True),
    ("null", detail(responseElements=[None]), detail(eventVersion="", responseElements=None), True),
    ("empty-string-not-null", detail(eventVersion=[""]), detail(eventVersion=None), False),
    ("null-not-empty-string", detail(responseElements=[None]), detail(responseElements=""), False),
    # ---- missing fields never match a value matcher
    ("missing-exact", {"detail": {"state": ["pending"]}}, {"detail": {}}, False),
    ("missing-parent", {"detail": {"state": ["pending"]}}, {"source": "aws.ec2"}, False),
    ("missing-anything-but", detail(state=[{"anything-but": "initializing"}]), detail(), False),
    ("missing-numeric", detail(c=[{"numeric": [">", 0]}]), detail(), False),
    # ---- prefix
    ("prefix", {"time": [{"prefix": "2017-10-02"}]}, {"time": "2017-10-02T18:43:48Z"}, True),
    ("prefix-no", {"time": [{"prefix": "2017-10-02"}]}, {"time": "2017-10-03T18:43:48Z"}, False),
    ("prefix-region", {"source": ["aws.autoscaling"], "region": [{"prefix": "eu-"}]},
     {"source": "aws.autoscaling", "region": "eu-west-1"}, True),
    ("prefix-number", {"n": [{"prefix": "1"}]}, {"n": 12}, False),
    ("prefix-ignore-case", {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]},
     {"service": "eventbridge"}, True),
    ("prefix-ignore-case-upper", {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]},
     {"service": "EVENTBRIDGE"}, True),
    ("prefix-ignore-case-no", {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]},
     {"service": "Lambda"}, False),
    # ---- suffix
    ("suffix", {"FileName": [{"suffix": ".png"}]}, {"FileName": "photo.png"}, True),
    ("suffix-no", {"FileName": [{"suffix": ".png"}]}, {"FileName": "photo.jpg"}, False),
    ("suffix-case-sensitive", {"FileName": [{"suffix": ".png"}]}, {"FileName": "photo.PNG"}, False),
    ("suffix-ignore-case", {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]},
     {"FileName": "photo.PNG"}, True),
    ("suffix-ignore-case-tbridge", {"service": [{"suffix": {"equals-ignore-case": "tbridge"}}]},
     {"service": "EvenTBRIDGE"}, True),
    # ---- equals-ignore-case
    ("equals-ignore-case", {"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "Alice"}, True),
    ("equals-ignore-case-upper", {"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "ALICE"}, True),
    ("equals-ignore-case-no", {"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "Alicia"}, False),
    ("equals-ignore-case-number", {"Name": [{"equals-ignore-case": "1"}]}, {"Name": 1}, False),
    # ---- anything-but
    ("anything-but", detail(state=[{"anything-but": "initializing"}]), detail(state="running"), True),
    ("anything-but-same", detail(state=[{"anything-but": "initializing"}]), detail(state="initializing"), False),
    ("anything-but-number", detail(**{"x-limit": [{"anything-but": 123}]}), detail(**{"x-limit": 124}), True),
    ("anything-but-number-same", detail(**{"x-limit": [{"anything-but": 123}]}), detail(**{"x-limit": 123}), False),
    ("anything-but-list", detail(state=[{"anything-but": ["stopped", "overloaded"]}]), detail(state="running"),
     True),
    ("anything-but-list-hit", detail(state=[{"anything-but": ["stopped", "overloaded"]}]),
     detail(state="overloaded"), False),
    ("anything-but-numbers", detail(**{"x-limit": [{"anything-but": [100, 200, 300]}]}),
     detail(**{"x-limit": 150}), True),
    ("anything-but-numbers-hit", detail(**{"x-limit": [{"anything-but": [100, 200, 300]}]}),
     detail(**{"x-limit": 200}), False),
    ("anything-but-prefix", detail(state=[{"anything-but": {"prefix": "init"}}]), detail(state="running"), True),
    ("anything-but-prefix-hit", detail(state=[{"anything-but": {"prefix": "init"}}]),
     detail(state="initializing"), False),
    ("anything-but-prefix-region", {"Region": [{"anything-but": {"prefix": "us-"}}]}, {"Region": "eu-west-1"},
     True),
    ("anything-but-prefix-region-hit", {"Region": [{"anything-but": {"prefix": "us-"}}]},
     {"Region": "us-east-1"}, False),
    ("anything-but-suffix", {"FileName": [{"anything-but": {"suffix": ".png"}}]}, {"FileName": "a.jpg"}, True),
    ("anything-but-suffix-hit", {"FileName": [{"anything-but": {"suffix": ".png"}}]}, {"FileName": "a.png"},
     False),
    ("anything-but-ignore-case", {"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]},
     {"state": "running"}, True),
    ("anything-but-ignore-case-hit", {"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]},
     {"state": "INITIALIZING"}, False),
    ("anything-but-ignore-case-list", {"state": [{"anything-but": {"equals-ignore-case": ["a", "B"]}}]},
     {"state": "b"}, False),
    ("anything-but-ignore-case-list-miss", {"state": [{"anything-but": {"equals-ignore-case": ["a", "B"]}}]},
     {"state": "c"}, True),
    ("anything-but-wildcard", {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]},
     {"FilePath": "/usr/bin/tool"}, True),
    ("anything-but-wildcard-hit", {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]},
     {"FilePath": "/usr/lib/libc.so"}, False),
    # ---- numeric
    ("numeric-doc", NUMERIC, detail(**{"c-count": 5, "d-count": 9, "x-limit": 301.8}), True),
    ("numeric-doc-lower-bound", NUMERIC, detail(**{"c-count": 0, "d-count": 9, "x-limit": 301.8}), False),
    ("numeric-doc-upper-bound", NUMERIC, detail(**{"c-count": 6, "d-count": 9, "x-limit": 301.8}), False),
    ("numeric-doc-d-count", NUMERIC, detail(**{"c-count": 1, "d-count": 10, "x-limit": 301.8}), False),
    ("numeric-doc-equals", NUMERIC, detail(**{"c-count": 1, "d-count": -3, "x-limit": 301.81}), False),
    ("numeric-doc-missing", NUMERIC, detail(**{"c-count": 1, "d-count": 1}), False),
    ("numeric-string", {"n": [{"numeric": [">", 0]}]}, {"n": "5"}, False),
    ("numeric-bool", {"n": [{"numeric": [">", 0]}]}, {"n": True}, False),
    ("numeric-ge", {"n": [{"numeric": [">=", 10]}]}, {"n": 10}, True),
    ("numeric-lt", {"n": [{"numeric": ["<", 10]}]}, {"n": 10}, False),
    ("numeric-range-float", {"n": [{"numeric": [">=", 1.5, "<", 2.5]}]}, {"n": 2.0}, True),
    # ---- IP address matching
    ("cidr", detail(sourceIPAddress=[{"cidr": "10.0.0.0/24"}]), detail(sourceIPAddress="10.0.0.255"), True),
    ("cidr-first", detail(sourceIPAddress=[{"cidr": "10.0.0.0/24"}]), detail(sourceIPAddress="10.0.0.0"), True),
    ("cidr-outside", detail(sourceIPAddress=[{"cidr": "10.0.0.0/24"}]), detail(sourceIPAddress="10.0.1.1"), False),
    ("cidr-not-ip", detail(sourceIPAddress=[{"cidr": "10.0.0.0/24"}]), detail(sourceIPAddress="host"), False),
    ("cidr-number", detail(sourceIPAddress=[{"cidr": "10.0.0.0/24"}]), detail(sourceIPAddress=10), False),
    ("cidr-ipv6", {"ip": [{"cidr": "2001:db8::/64"}]}, {"ip": "2001:db8::1"}, True),
    ("cidr-ipv6-outside", {"ip": [{"cidr": "2001:db8::/64"}]}, {"ip": "2001:db9::1"}, False),
    ("cidr-family", {"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": "::1"}, False),
    ("cidr-several", {"ip": [{"cidr": "192.168.1.0/24"}, {"cidr": "10.0.0.0/16"}]}, {"ip": "10.0.200.1"}, True),
    # ---- exists
    ("exists-true", detail(state=[{"exists": True}]), EC2_EVENT, True),
    ("exists-true-missing", detail(state=[{"exists": True}]),
     {"detail-type": "EC2 Instance State-change Notification", "detail": {"c-count": {"c1": 100}}}, False),
    ("exists-false", detail(**{"c-count": [{"exists": False}]}), detail(state=["initializing", "running"]), True),
    ("exists-false-present", detail(**{"c-count": [{"exists": False}]}), detail(**{"c-count": 3}), False),
    ("exists-true-null", {"a": [{"exists": True}]}, {"a": None}, True),
    ("exists-false-null", {"a": [{"exists": False}]}, {"a": None}, False),
    ("exists-false-or-value", {"a": [{"exists": False}, "x"]}, {"a": "x"}, True),
    ("exists-false-or-value-missing", {"a": [{"exists": False}, "x"]}, {}, True),
    ("exists-false-or-value-other", {"a": [{"exists": False}, "x"]}, {"a": "y"}, False),
    # ---- wildcard
    ("wildcard", {"FileName": [{"wildcard": "dir/*.png"}]}, {"FileName": "dir/abc.png"}, True),
    ("wildcard-empty-star", {"FileName": [{"wildcard": "dir/*.png"}]}, {"FileName": "dir/.png"}, True),
    ("wildcard-no", {"FileName": [{"wildcard": "dir/*.png"}]}, {"FileName": "dir/abc.jpg"}, False),
    ("wildcard-anchored", {"FileName": [{"wildcard": "dir/*.png"}]}, {"FileName": "x/dir/abc.png"}, False),
    ("wildcard-arn", {"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]},
     {"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/orders"}, True),
    ("wildcard-arn-region", {"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]},
     {"EventBusArn": "arn:aws:events:eu-west-1:123456789012:event-bus/orders"}, False),
    ("wildcard-middle", {"title": [{"wildcard": "*Title*"}]}, {"title": "The Title Here"}, True),
    ("wildcard-escaped-star", {"n": [{"wildcard": "a\\*b"}]}, {"n": "a*b"}, True),
    ("wildcard-escaped-star-literal", {"n": [{"wildcard": "a\\*b"}]}, {"n": "axb"}, False),
    ("wildcard-regex-chars-literal", {"n": [{"wildcard": "a.b*"}]}, {"n": "axb"}, False),
    # ---- $or
    ("or-doc", {"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization", "ReadLatency"]},
                                                     {"namespace": ["AWS/EC2", "AWS/ES"]}]},
     {"source": "aws.cloudwatch", "metricName": "Other", "namespace": "AWS/ES"}, True),
    ("or-doc-none", {"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization", "ReadLatency"]},
                                                          {"namespace": ["AWS/EC2", "AWS/ES"]}]},
     {"source": "aws.cloudwatch", "metricName": "Other", "namespace": "AWS/S3"}, False),
    ("or-doc-and-fails", {"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]},
                                                               {"namespace": ["AWS/EC2"]}]},
     {"source": "aws.s3", "metricName": "CPUUtilization"}, False),
    ("or-nested", {"detail": {"$or": [{"c-count": [{"numeric": [">", 0, "<=", 5]}]},
                                      {"d-count": [{"numeric": ["<", 10]}]},
                                      {"x-limit": [{"numeric": ["=", 3.018e2]}]}]}},
     detail(**{"x-limit": 301.8}), True),
    ("or-nested-none", {"detail": {"$or": [{"c-count": [{"numeric": [">", 0, "<=", 5]}]},
                                           {"d-count": [{"numeric": ["<", 10]}]}]}},
     detail(**{"c-count": 6, "d-count": 10}), False),
    # ---- arrays in events match when any element matches
    ("array-intersection", RESOURCES_PATTERN, {"resources": [
        "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:"
        "autoScalingGroupName/ASGTerminate",
        "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
    ]}, True),
    ("array-no-intersection", RESOURCES_PATTERN, {"resources": ["arn:aws:ec2:us-east-1:999:instance/i-x"]}, False),
    ("array-empty", RESOURCES_PATTERN, {"resources": []}, False),
    ("array-prefix", {"tags": [{"prefix": "env:"}]}, {"tags": ["team:a", "env:prod"]}, True),
    ("array-numeric", {"scores": [{"numeric": [">", 90]}]}, {"scores": [10, 95]}, True),
    ("array-numeric-none", {"scores": [{"numeric": [">", 90]}]}, {"scores": [10, 20]}, False),
    ("array-anything-but", {"price": [{"anything-but": [100, 500]}]}, {"price": [100, 50]}, True),
    ("array-anything-but-all-excluded", {"price": [{"anything-but": [100, 500]}]}, {"price": [100, 500]}, False),
    # ---- nested patterns: an absent parent is an empty object; an array of objects matches per object
    ("nested-absent-parent-exists-false", detail(**{"c-count": [{"exists": False}]}), {"source": "aws.ec2"}, True),
    ("nested-absent-parent-exists-true", detail(state=[{"exists": True}]), {"source": "aws.ec2"}, False),
    ("nested-scalar-parent-exists-false", detail(state=[{"exists": False}]), {"detail": "text"}, True),
    ("nested-array-of-objects", {"items": {"sku": ["a"]}}, {"items": [{"sku": "b"}, {"sku": "a"}]}, True),
    ("nested-array-of-objects-none", {"items": {"sku": ["a"]}}, {"items": [{"sku": "b"}, {"sku": "c"}]}, False),
    ("nested-array-same-object", {"items": {"sku": ["a"], "qty": [2]}},
     {"items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}]}, False),
    ("nested-array-same-object-hit", {"items": {"sku": ["a"], "qty": [2]}},
     {"items": [{"sku": "b", "qty": 1}, {"sku": "a", "qty": 2}]}, True),
    # ---- the combined example
    ("complex", COMPLEX, {"time": "2017-10-02T00:00:00Z",
                          "detail": {"state": "running", "c-count": 3, "d-count": 2, "x-limit": 150}}, True),
    ("complex-state", COMPLEX, {"time": "2017-10-02T00:00:00Z",
                                "detail": {"state": "initializing", "c-count": 3, "d-count": 2, "x-limit": 150}},
     False),
    ("complex-x-limit", COMPLEX, {"time": "2017-10-02T00:00:00Z",
                                  "detail": {"state": "running", "c-count": 3, "d-count": 2, "x-limit": 300}},
     False),
    ("complex-time", COMPLEX, {"time": "2017-10-03T00:00:00Z",
                               "detail": {"state": "running", "c-count": 3, "d-count": 2, "x-limit": 150}}, False),
]


@pytest.mark.parametrize(("pattern", "event", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_matching(pattern: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    assert compile_pattern(pattern)(event) is expected


@pytest.mark.xfail(strict=True, reason="divergence: AWS says exists works on leaf nodes only, and an earlier "
                   "revision of the page shows exists:false matching an object-valued c-count; hookmesh treats "
                   "the object as present")
def test_exists_false_matches_an_intermediate_node() -> None:
    matcher = compile_pattern({"detail": {"c-count": [{"exists": False}]}})
    assert matcher({"detail": {"state": ["initializing", "running"], "c-count": {"c1": 100}}})


def test_compiled_matcher_is_reusable() -> None:
    matcher = compile_pattern({"source": ["aws.ec2"]})
    assert [matcher({"source": s}) for s in ("aws.ec2", "aws.s3", "aws.ec2")] == [True, False, True]


# ------------------------------------------------------------------------------------ compile errors

ERRORS: list[tuple[str, Any, str, str]] = [
    ("not-mapping", ["source"], "", "mapping"),
    ("scalar-spec", {"source": "aws.ec2"}, ".source", "list"),
    ("nested-scalar-spec", {"detail": {"state": 5}}, ".detail.state", "list"),
    ("empty-list", {"source": []}, ".source", "at least one"),
    ("two-keys", {"source": [{"prefix": "a", "suffix": "b"}]}, ".source[0]", "one key"),
    ("list-matcher", {"source": [["a"]]}, ".source[0]", "matcher"),
    ("unknown-op", {"source": [{"contains": "a"}]}, ".source[0].contains", "unknown matcher"),
    ("prefix-number", {"source": ["a", {"prefix": 5}]}, ".source[1].prefix", "string"),
    ("suffix-list", {"detail": {"f": [{"suffix": [".png"]}]}}, ".detail.f[0].suffix", "string"),
    ("eic-number", {"n": [{"equals-ignore-case": 5}]}, ".n[0].equals-ignore-case", "string"),
    ("wildcard-number", {"n": [{"wildcard": 5}]}, ".n[0].wildcard", "string"),
    ("wildcard-double-star", {"n": [{"wildcard": "a**b"}]}, ".n[0].wildcard", "consecutive"),
    ("numeric-not-list", {"n": [{"numeric": 5}]}, ".n[0].numeric", "one or two comparisons"),
    ("numeric-empty", {"n": [{"numeric": []}]}, ".n[0].numeric", "one or two comparisons"),
    ("numeric-odd", {"n": [{"numeric": [">", 0, "<"]}]}, ".n[0].numeric", "one or two comparisons"),
    ("numeric-too-long", {"n": [{"numeric": [">", 0, "<", 5, "=", 3]}]}, ".n[0].numeric",
     "one or two comparisons"),
    ("numeric-bad-op", {"data": {"total": [{"numeric": [">>", 5]}]}}, ".data.total[0].numeric[0]",
     "unknown comparison"),
    ("numeric-bad-second-op", {"n": [{"numeric": [">", 0, "!=", 5]}]}, ".n[0].numeric[2]", "unknown comparison"),
    ("numeric-string-bound", {"n": [{"numeric": [">", "5"]}]}, ".n[0].numeric[1]", "finite number"),
    ("numeric-bool-bound", {"n": [{"numeric": [">", True]}]}, ".n[0].numeric[1]", "finite number"),
    ("numeric-inf-bound", {"n": [{"numeric": ["<", float("inf")]}]}, ".n[0].numeric[1]", "finite number"),
    ("numeric-nan-second-bound", {"n": [{"numeric": [">", 0, "<", float("nan")]}]}, ".n[0].numeric[3]",
     "finite number"),
    ("cidr-junk", {"ip": [{"cidr": "10.0.0.0/33"}]}, ".ip[0].cidr", "CIDR"),
    ("cidr-no-prefix-junk", {"ip": [{"cidr": "not-an-ip"}]}, ".ip[0].cidr", "CIDR"),
    ("cidr-list", {"ip": [{"cidr": ["10.0.0.0/8"]}]}, ".ip[0].cidr", "CIDR"),
    ("cidr-int", {"ip": [{"cidr": 10}]}, ".ip[0].cidr", "CIDR"),
    ("cidr-bool", {"ip": [{"cidr": True}]}, ".ip[0].cidr", "CIDR"),
    ("exists-string", {"a": [{"exists": "yes"}]}, ".a[0]", "true or false"),
    ("exists-extra-key", {"a": [{"exists": True, "prefix": "x"}]}, ".a[0]", "alone"),
    ("anything-but-empty-list", {"a": [{"anything-but": []}]}, ".a[0].anything-but", "anything-but takes"),
    ("anything-but-list-of-objects", {"a": [{"anything-but": [{"prefix": "x"}]}]}, ".a[0].anything-but",
     "anything-but takes"),
    ("anything-but-unknown-op", {"a": [{"anything-but": {"numeric": [">", 1]}}]}, ".a[0].anything-but",
     "anything-but takes"),
    ("anything-but-prefix-number", {"a": [{"anything-but": {"prefix": 5}}]}, ".a[0].anything-but.prefix",
     "string"),
    ("or-not-list", {"$or": {"a": ["x"]}}, ".$or", "at least two"),
    ("or-one", {"$or": [{"a": ["x"]}]}, ".$or", "at least two"),
    ("or-alternative-not-mapping", {"$or": [{"a": ["x"]}, ["b"]]}, ".$or[1]", "mapping"),
    ("or-bad-inner", {"detail": {"$or": [{"a": ["x"]}, {"b": [{"numeric": ["?", 1]}]}]}},
     ".detail.$or[1].b[0].numeric[0]", "unknown comparison"),
]


@pytest.mark.parametrize(("pattern", "path", "reason"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_compile_errors_point_at_the_bad_part(pattern: Any, path: str, reason: str) -> None:
    with pytest.raises(PatternError) as excinfo:
        compile_pattern(pattern)
    assert excinfo.value.path == path
    assert reason in excinfo.value.reason
    assert str(excinfo.value) == f"{path or '.'}: {excinfo.value.reason}"


def test_pattern_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        compile_pattern({"a": "b"})


# ---------------------------------------------------------------------------------- references_data

@pytest.mark.parametrize(("pattern", "expected"), [
    ({}, False),
    ({"type": ["com.shop.order.created"]}, False),
    ({"data": {"total": [{"numeric": [">", 0]}]}}, True),
    ({"type": ["a"], "data": {"x": [{"exists": True}]}}, True),
    ({"$or": [{"type": ["a"]}, {"data": {"x": [1]}}]}, True),
    ({"$or": [{"type": ["a"]}, {"source": ["b"]}]}, False),
    ({"$or": [{"type": ["a"]}, {"$or": [{"source": ["b"]}, {"data": {"x": [1]}}]}]}, True),
    ({"$or": "junk"}, False),
    ({"$or": ["junk", {"type": ["a"]}]}, False),
    ({"subject": {"data": ["x"]}}, False),
])
def test_references_data(pattern: dict[str, Any], expected: bool) -> None:
    assert references_data(pattern) is expected
