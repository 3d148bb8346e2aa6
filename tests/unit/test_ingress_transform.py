"""services/ingress/transform.py: transforms map payloads, and a runaway expression is a bounded 422."""

from __future__ import annotations

import pytest
from jsonata.timebox import Timebox

from services.ingress.transform import apply_transform, compile_transform
from shared.errors import Unprocessable


def test_a_transform_maps_the_payload() -> None:
    assert apply_transform('{"order_id": id, "total": $number(amount)}', {"id": "A-1", "amount": "2.5"}) == {
        "order_id": "A-1", "total": 2.5}


@pytest.mark.parametrize(("expression", "reason"), [
    ('($f := function($n){ $n > 0 ? $f($n - 1) + 1 : 0 }; $f(100000))', "Stack overflow"),
    ('($loop := function($x){ $loop($x) }; $loop(1))', "timeout"),
    ('$count([1..2000000].($ * 2))', "timeout"),
])
def test_a_runaway_expression_stops_with_a_422(expression: str, reason: str) -> None:
    with pytest.raises(Unprocessable, match=reason):
        apply_transform(expression, {})


def test_a_kept_expression_gets_a_fresh_time_budget_on_every_evaluation(monkeypatch: pytest.MonkeyPatch) -> None:
    expression = '{"n": n + 1}'
    assert apply_transform(expression, {"n": 1}) == {"n": 2}
    real = Timebox.current_milli_time
    # as if the expression had been compiled a minute ago (jsonata-python's own bound would now refuse it)
    monkeypatch.setattr(Timebox, "current_milli_time", staticmethod(lambda: real() + 60_000))
    assert apply_transform(expression, {"n": 2}) == {"n": 3}
    assert compile_transform(expression) is compile_transform(expression)
