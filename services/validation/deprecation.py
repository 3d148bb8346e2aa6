"""Events of deprecated schema versions: counted, logged once per source and version per hour, and marked
with the `deprecation`/`sunset` extension attributes so delivery sends the matching headers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter

from shared.config import Schema
from shared.deprecation import extensions
from shared.envelope import CloudEvent

log = logging.getLogger("hookmesh.validation.deprecation")
LOG_EVERY = 3600.0


class DeprecationTracker:
    def __init__(self, registry: CollectorRegistry, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.counter = Counter("hookmesh_deprecated_events_total", "Events validated against a deprecated "
                               "schema version, by source, type and version", ["source", "type", "version"],
                               registry=registry)
        self._logged: dict[tuple[str, str, int], float] = {}

    def observe(self, source: str, event: CloudEvent, schema: Schema) -> bool:
        """Count and mark an event of a deprecated version; True when it was logged this time."""
        self.counter.labels(source, schema.type, str(schema.version)).inc()
        event.extras = {**event.extras, **extensions(schema.sunset)}
        key = (source, schema.type, schema.version)
        now = self.clock()
        last = self._logged.get(key)
        if last is not None and now - last < LOG_EVERY:
            return False
        self._logged[key] = now
        sunset = f"; its sunset is {schema.sunset.isoformat()}, after which its events are dead-lettered" \
            if schema.sunset else ""
        log.warning("source %s still sends %s version %s, which is deprecated%s (logged once an hour)",
                    source, schema.type, schema.version, sunset, extra={"source": source, "type": schema.type})
        return True
