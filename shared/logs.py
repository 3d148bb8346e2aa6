"""Logging: one JSON object per line (or a readable line on a terminal), with trace and span ids.

Pass event facts as `extra={"event_id": ..., "destination": ...}`; the current trace and span ids
are added by themselves. Secrets are never passed to a logger (see `shared.config.resolve_secret`).
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime

import msgspec

from shared.tracing import current_ids

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
_encoder = msgspec.json.Encoder()


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "trace_id", None):
            record.trace_id, record.span_id = current_ids()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and value not in (None, ""):
                out[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return _encoder.encode(out).decode()


class HumanFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        facts = " ".join(f"{k}={v}" for k, v in record.__dict__.items()
                         if k not in _STANDARD and k not in ("trace_id", "span_id") and v not in (None, ""))
        trace_id = getattr(record, "trace_id", "")
        tail = f" trace={trace_id}" if trace_id else ""
        line = f"{when} {record.levelname:<7} {record.name:<20} {record.getMessage()}"
        line = f"{line}  {facts}{tail}" if facts or tail else line
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup_logging(level: str | None = None, *, json_logs: bool | None = None) -> None:
    """Configure the root logger once; HOOKMESH_LOG_LEVEL and HOOKMESH_LOG_FORMAT (json|human) override."""
    level = (level or os.environ.get("HOOKMESH_LOG_LEVEL") or "INFO").upper()
    fmt = os.environ.get("HOOKMESH_LOG_FORMAT")
    if json_logs is None:
        json_logs = fmt == "json" if fmt else not sys.stderr.isatty()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_logs else HumanFormatter())
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("nats", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
