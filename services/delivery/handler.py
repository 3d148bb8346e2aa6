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


def after_failure(destination: Destination, failure: DeliveryFailure, record: Attempt) -> Next:
    """Decide what follows a failed attempt, and note the chosen delay on its record."""
    retry = destination.retry
    if isinstance(failure, RetryableDelivery):
        if record.attempt < retry.max_attempts:
            delay, cap = retry_delay(record.attempt, retry.initial, retry.max, retry_after=failure.retry_after)
            record.next_delay_s = round(delay, 3)
            record.backoff_cap_s = cap
            return Next("retry", delay)
        return Next("dead_letter", reason="delivery_exhausted")
    return Next("dead_letter", reason="non_retryable_status" if failure.status else "destination_refused")
