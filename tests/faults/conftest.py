"""Fixtures of the fault suite: the configuration every fault test applies, and applying it."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared import nats_runtime
from shared.config import parse_config
from shared.configstore import apply_config
from shared.streams import ensure_streams
from tests.support.mesh import config_yaml

# Fast retries so a fault test settles in seconds; the breaker stays out of the way unless a test wants it.
RETRY = "{max_attempts: 20, initial: 100ms, max: 500ms}"


def fault_config(sink_url: str) -> str:
    return config_yaml(sink_url, retry=RETRY)


async def apply_text(nats_url: str, text: str, *, replicas: int = 1) -> None:
    nc = await nats_runtime.connect(nats_url, "faults-apply")
    try:
        js = nc.jetstream(timeout=10)
        await ensure_streams(js, replicas=replicas)
        await apply_config(js, parse_config(text, file="faults.yaml"))
    finally:
        await nc.close()


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return tmp_path / "hookmesh.yaml"
