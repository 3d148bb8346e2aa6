"""The one decision delivery makes: after an attempt, ack, retry later (nak with delay), or dead-letter."""

from __future__ import annotations

from dataclasses import dataclass

from services.delivery.backoff import retry_delay
from shared.config import Destination
from shared.deadletters import Attempt
from shared.envelope import now_rfc3339
from shared.errors import DeliveryFailure, RetryableDelivery


@dataclass
class Next:
    action: str  # retry | dead_letter
    delay: float = 0.0
    reason: str = ""


def record_failure(failure: DeliveryFailure, attempt: int) -> Attempt:
    return Attempt(at=now_rfc3339(), attempt=attempt, status=failure.status,
                   latency_ms=round(getattr(failure, "latency_ms", 0.0), 2), error=str(failure),
                   excerpt=failure.excerpt[:1024])


def after_failure(destination: Destination, failure: DeliveryFailure, record: Attempt, *,
                  age: float | None = None) -> Next:
    """Decide what follows a failed attempt, and note the chosen delay on its record.

    `age` is how long the event has waited for delivery (seconds since it entered the deliver stream);
    with `retry.max_age`, a retry that would start past that age is not scheduled.
    """
    retry = destination.retry
    if isinstance(failure, RetryableDelivery):
        if record.attempt < retry.max_attempts:
            delay, cap = retry_delay(record.attempt, retry.initial, retry.max, retry_after=failure.retry_after)
            if retry.max_age is not None and age is not None and age + delay > retry.max_age:
                return Next("dead_letter", reason="delivery_expired")
            record.next_delay_s = round(float(delay), 3)
            record.backoff_cap_s = float(cap)  # cap may be the configured Duration itself
            return Next("retry", float(delay))
        return Next("dead_letter", reason="delivery_exhausted")
    return Next("dead_letter", reason="non_retryable_status" if failure.status else "destination_refused")
