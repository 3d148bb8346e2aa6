"""Log lines: one JSON object per line with trace, span and event ids; a readable line on a terminal."""

from __future__ import annotations

import io
import logging

import msgspec
import pytest
from opentelemetry.sdk.trace import TracerProvider

from shared.logs import HumanFormatter, JsonFormatter, _ContextFilter


@pytest.fixture
def capture() -> tuple[logging.Logger, io.StringIO, logging.StreamHandler]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(_ContextFilter())
    logger = logging.getLogger("hookmesh.test-logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream, handler


def test_json_line_carries_trace_span_and_event_facts(capture: tuple) -> None:
    logger, stream, handler = capture
    handler.setFormatter(JsonFormatter())
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("work") as span:
        logger.info("delivered %s", "ok", extra={"event_id": "E1", "destination": "billing", "attempt": 2})
    line = stream.getvalue().strip()
    assert "\n" not in line
    record = msgspec.json.decode(line)
    assert record["msg"] == "delivered ok" and record["level"] == "info"
    assert record["event_id"] == "E1" and record["destination"] == "billing" and record["attempt"] == 2
    assert record["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    assert record["span_id"] == f"{span.get_span_context().span_id:016x}"


def test_json_line_outside_a_span_has_no_empty_ids(capture: tuple) -> None:
    logger, stream, handler = capture
    handler.setFormatter(JsonFormatter())
    logger.warning("no span here")
    record = msgspec.json.decode(stream.getvalue())
    assert "trace_id" not in record and "span_id" not in record


def test_exceptions_stay_on_one_json_line(capture: tuple) -> None:
    logger, stream, handler = capture
    handler.setFormatter(JsonFormatter())
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    [line] = stream.getvalue().splitlines()
    assert "ValueError: boom" in msgspec.json.decode(line)["exception"]


def test_human_line_reads_well(capture: tuple) -> None:
    logger, stream, handler = capture
    handler.setFormatter(HumanFormatter())
    logger.info("received", extra={"event_id": "E1"})
    line = stream.getvalue()
    assert " INFO " in line and "received" in line and "event_id=E1" in line
