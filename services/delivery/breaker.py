"""Circuit breaker per destination: a pure state machine over an injected clock.

closed ── ≥ failure_ratio of ≥ min_attempts failed in `window`, or `consecutive_failures` ──▶ open
open ── `cooldown` elapsed ──▶ half_open: exactly one probe attempt may go
half_open ── probe succeeded ──▶ closed (window cleared) ; probe failed ──▶ open (cooldown again)

Delivery stops fetching while the breaker is not closed, so events wait in the stream and no retry
attempts are spent against a destination that is down.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Literal

from shared.config import Breaker

State = Literal["closed", "open", "half_open"]
Grant = Literal["attempt", "probe"]
STATE_VALUES: dict[State, int] = {"closed": 0, "half_open": 1, "open": 2}


class CircuitBreaker:
    def __init__(self, settings: Breaker, *, clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[State, State, str], None] | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.on_change = on_change
        self.state: State = "closed"
        self.opened_at = 0.0
        self.reason = ""
        self.consecutive = 0
        self.opened_count = 0
        self._window: deque[tuple[float, bool]] = deque()
        self._probing = False

    # ------------------------------------------------------------------------------------ queries

    def poll(self) -> State:
        """The state now; moves open → half_open once the cooldown has passed."""
        if self.state == "open" and self.clock() - self.opened_at >= self.settings.cooldown:
            self._move("half_open", "cooldown elapsed")
        return self.state

    def retry_in(self) -> float:
        """Seconds until the breaker lets a probe through (0 when it would now)."""
        if self.state != "open":
            return 0.0
        return max(0.0, self.settings.cooldown - (self.clock() - self.opened_at))

    def failure_ratio(self) -> float:
        self._prune()
        if not self._window:
            return 0.0
        return sum(1 for _, ok in self._window if not ok) / len(self._window)

    # ------------------------------------------------------------------------------------ transitions

    def acquire(self) -> Grant | None:
        """May an attempt go now? "attempt" when closed, "probe" for the one half-open probe, else None."""
        if not self.settings.enabled:
            return "attempt"
        state = self.poll()
        if state == "closed":
            return "attempt"
        if state == "half_open" and not self._probing:
            self._probing = True
            return "probe"
        return None

    def release_probe(self) -> None:
        """The probe was granted but no attempt was made (for example the message went away)."""
        self._probing = False

    def record(self, success: bool, *, probe: bool = False) -> None:
        """The result of an attempt. Results of attempts that began before the breaker opened are ignored
        while it is open or half-open: only the probe decides."""
        if not self.settings.enabled:
            return
        if probe:
            self._probing = False
            if self.state == "half_open":
                if success:
                    self._window.clear()
                    self.consecutive = 0
                    self._move("closed", "probe succeeded")
                else:
                    self._open("probe failed")
            return
        if self.state != "closed":
            return
        now = self.clock()
        self._window.append((now, success))
        self._prune(now)
        self.consecutive = 0 if success else self.consecutive + 1
        if success:
            return
        if self.consecutive >= self.settings.consecutive_failures:
            self._open(f"{self.consecutive} consecutive failures")
            return
        attempts = len(self._window)
        ratio = self.failure_ratio()
        if attempts >= self.settings.min_attempts and ratio >= self.settings.failure_ratio:
            self._open(f"{ratio:.0%} of {attempts} attempts failed in {self.settings.window:g}s")

    def _open(self, reason: str) -> None:
        self.opened_at = self.clock()
        self.opened_count += 1
        self._move("open", reason)

    def _move(self, state: State, reason: str) -> None:
        before, self.state, self.reason = self.state, state, reason
        if state != "half_open":
            self._probing = False
        if self.on_change is not None and before != state:
            self.on_change(before, state, reason)

    def _prune(self, now: float | None = None) -> None:
        horizon = (self.clock() if now is None else now) - self.settings.window
        while self._window and self._window[0][0] < horizon:
            self._window.popleft()
