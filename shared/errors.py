"""The hookmesh error tree, with the HTTP status each maps to in one place.

    HookmeshError
    ├── ConfigError                  a configuration file or value is wrong (file, field, reason)
    │   └── MissingSecretError       a *_env / *_file secret is not set or not readable
    ├── RequestError                 an HTTP request was refused (mapped to problem+json)
    │   ├── MalformedBody            400 the body is not what the content type says
    │   ├── Unauthorized             401 bad or missing credentials
    │   ├── Forbidden                403 authenticated, but not allowed (for example a type not allowed)
    │   ├── NotFound                 404 unknown source, dead letter, ...
    │   ├── Conflict                 409 the request conflicts with the current state
    │   ├── BodyTooLarge             413 over the size limit
    │   ├── UnsupportedMediaType     415 content type not accepted
    │   ├── Unprocessable            422 well-formed but unusable (for example a missing type)
    │   ├── TooManyRequests          429 over the source's rate limit (with Retry-After)
    │   └── Unavailable              503 NATS is unreachable; retry later
    ├── MalformedEnvelope            bytes on a hookmesh subject are not a CloudEvent envelope
    ├── ContractViolation            an event does not satisfy its schema (carries every error)
    └── DeliveryFailure              a destination did not accept an event
        ├── RetryableDelivery        408, 429, 5xx, timeouts, connection errors
        └── PermanentDelivery        other 4xx, refused addresses (SSRF guard)
"""

from __future__ import annotations

from typing import Any


class HookmeshError(Exception):
    """Base of every error hookmesh raises on purpose."""


class ConfigError(HookmeshError):
    """A configuration file or value is wrong. The message names the file, the field and why."""

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None) -> None:
        self.file = file
        self.field = field
        self.reason = message
        where = ": ".join(p for p in (file, field) if p)
        super().__init__(f"{where}: {message}" if where else message)


class MissingSecretError(ConfigError):
    """A secret named by `*_env` or `*_file` is not available to this process."""


class RequestError(HookmeshError):
    """An HTTP request was refused; `status` and `title` make the problem+json answer."""

    status = 400
    title = "Bad Request"
    kind = "bad-request"

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}
        self.headers = headers or {}


class MalformedBody(RequestError):
    status, title, kind = 400, "Malformed body", "malformed-body"


class Unauthorized(RequestError):
    status, title, kind = 401, "Unauthorized", "unauthorized"


class Forbidden(RequestError):
    status, title, kind = 403, "Forbidden", "forbidden"


class NotFound(RequestError):
    status, title, kind = 404, "Not found", "not-found"


class Conflict(RequestError):
    status, title, kind = 409, "Conflict", "conflict"


class BodyTooLarge(RequestError):
    status, title, kind = 413, "Body too large", "body-too-large"


class UnsupportedMediaType(RequestError):
    status, title, kind = 415, "Unsupported media type", "unsupported-media-type"


class Unprocessable(RequestError):
    status, title, kind = 422, "Unprocessable event", "unprocessable"


class TooManyRequests(RequestError):
    status, title, kind = 429, "Too many requests", "too-many-requests"


class Unavailable(RequestError):
    status, title, kind = 503, "Service unavailable", "unavailable"


class MalformedEnvelope(HookmeshError):
    """A message on a hookmesh subject is not a valid CloudEvents 1.0 envelope."""


class ContractViolation(HookmeshError):
    """An event's data does not satisfy its registered schema."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e['pointer'] or '/'}: {e['message']}" for e in errors[:5]))


class DeliveryFailure(HookmeshError):
    """A destination did not accept an event."""

    def __init__(self, message: str, *, status: int | None = None, excerpt: str = "",
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.excerpt = excerpt
        self.retry_after = retry_after


class RetryableDelivery(DeliveryFailure):
    """Worth another attempt: 408, 429, 5xx, timeouts and connection errors."""


class PermanentDelivery(DeliveryFailure):
    """Not worth another attempt: other 4xx, or an address the SSRF guard refuses."""
