"""services/delivery/breaker.py: the circuit breaker state machine, over an injected clock."""

from __future__ import annotations

from services.delivery.breaker import CircuitBreaker
from shared.config import Breaker, Duration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, **settings: float) -> tuple[CircuitBreaker, list[tuple[str, str]]]:
    changes: list[tuple[str, str]] = []
    defaults = {"min_attempts": 10, "failure_ratio": 0.7, "window": 60.0, "consecutive_failures": 5, "cooldown": 30.0}
    defaults.update(settings)
    cfg = Breaker(min_attempts=int(defaults["min_attempts"]), failure_ratio=defaults["failure_ratio"],
                  window=Duration(defaults["window"]), consecutive_failures=int(defaults["consecutive_failures"]),
                  cooldown=Duration(defaults["cooldown"]))
    return CircuitBreaker(cfg, clock=clock, on_change=lambda a, b, why: changes.append((a, b))), changes


def test_opens_on_consecutive_failures_then_probes_once_after_cooldown_then_closes() -> None:
    clock = Clock()
    cb, changes = breaker(clock)
    for _ in range(4):
        assert cb.acquire() == "attempt"
        cb.record(False)
    assert cb.state == "closed"
    cb.record(False)
    assert cb.state == "open" and "5 consecutive" in cb.reason
    assert cb.acquire() is None
    clock.now += 29.9
    assert cb.acquire() is None and cb.retry_in() > 0
    clock.now += 0.1
    assert cb.acquire() == "probe"
    assert cb.state == "half_open"
    assert cb.acquire() is None  # only one probe at a time
    cb.record(True, probe=True)
    assert cb.state == "closed"
    assert changes == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_failed_probe_reopens_for_another_cooldown() -> None:
    clock = Clock()
    cb, changes = breaker(clock, consecutive_failures=1, cooldown=10)
    cb.record(False)
    clock.now += 10
    assert cb.acquire() == "probe"
    cb.record(False, probe=True)
    assert cb.state == "open" and cb.opened_count == 2
    clock.now += 9
    assert cb.poll() == "open"
    clock.now += 1
    assert cb.poll() == "half_open"
    assert changes[-2:] == [("half_open", "open"), ("open", "half_open")]


def test_opens_at_the_failure_ratio_only_with_enough_attempts() -> None:
    clock = Clock()
    cb, _ = breaker(clock, consecutive_failures=100)
    # 6 failures, 3 successes: 9 attempts is under min_attempts, whatever the ratio.
    for ok in (False, False, True, False, False, True, False, False, True):
        cb.record(ok)
    assert cb.state == "closed"
    cb.record(False)  # 7 of 10 = 70 %
    assert cb.state == "open" and "70% of 10" in cb.reason


def test_ratio_below_threshold_stays_closed() -> None:
    clock = Clock()
    cb, _ = breaker(clock, consecutive_failures=100)
    for ok in (False, True) * 10:  # 50 %
        cb.record(ok)
    assert cb.state == "closed" and cb.failure_ratio() == 0.5


def test_old_outcomes_leave_the_window() -> None:
    clock = Clock()
    cb, _ = breaker(clock, consecutive_failures=100, window=10)
    for _ in range(9):
        cb.record(False)
        cb.record(True)
    clock.now += 11  # all of those are now outside the window
    for _ in range(9):
        cb.record(False)
    assert cb.state == "closed"  # 9 attempts in the window: under min_attempts
    cb.record(False)
    assert cb.state == "open"


def test_results_of_attempts_started_before_opening_do_not_decide() -> None:
    clock = Clock()
    cb, _ = breaker(clock, consecutive_failures=2, cooldown=5)
    cb.record(False)
    cb.record(False)
    assert cb.state == "open"
    cb.record(True)  # a late success from an attempt already under way
    assert cb.state == "open"
    clock.now += 5
    assert cb.acquire() == "probe"
    cb.record(True)  # not the probe
    assert cb.state == "half_open"
    cb.record(False, probe=True)
    assert cb.state == "open"


def test_a_success_resets_the_consecutive_count() -> None:
    clock = Clock()
    cb, _ = breaker(clock, consecutive_failures=3, min_attempts=1000)
    for _ in range(5):
        cb.record(False)
        cb.record(False)
        cb.record(True)
    assert cb.state == "closed" and cb.consecutive == 0


def test_disabled_breaker_always_allows() -> None:
    clock = Clock()
    cb = CircuitBreaker(Breaker(enabled=False, consecutive_failures=1), clock=clock)
    for _ in range(20):
        cb.record(False)
    assert cb.state == "closed" and cb.acquire() == "attempt"


def test_released_probe_can_be_granted_again() -> None:
    clock = Clock()
    cb, _ = breaker(clock, consecutive_failures=1, cooldown=1)
    cb.record(False)
    clock.now += 1
    assert cb.acquire() == "probe"
    cb.release_probe()
    assert cb.acquire() == "probe"
