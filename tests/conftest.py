"""Fixtures every suite uses: a real JetStream nats-server per test, a recording sink, spans, the mesh."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.mesh import Mesh
from tests.support.natsserver import NatsServer
from tests.support.sink import RecordingSink
from tests.support.spans import SpanRecorder

SINK_SECRET = "whsec_" + base64.b64encode(b"hookmesh-test-signing-secret-32b").decode()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sink_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TEST_SINK_SECRET", SINK_SECRET)
    return SINK_SECRET


@pytest.fixture
async def sink() -> AsyncIterator[RecordingSink]:
    recording = RecordingSink()
    await recording.start()
    yield recording
    await recording.stop()


@pytest.fixture
def spans() -> Iterator[SpanRecorder]:
    recorder = SpanRecorder()
    yield recorder
    recorder.close()


@pytest.fixture
async def mesh_factory(nats_server: NatsServer) -> AsyncIterator[type[Mesh]]:
    """Build meshes against this test's server; every mesh started is stopped at the end."""
    started: list[Mesh] = []

    class _Mesh(Mesh):
        def __init__(self, **kwargs: object) -> None:
            super().__init__(nats_server.url, **kwargs)  # type: ignore[arg-type]
            started.append(self)

    yield _Mesh
    for mesh in started:
        await mesh.stop()


@pytest.fixture(autouse=True)
def _no_ambient_otel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests decide about exporters themselves; a developer's OTEL_* environment must not leak in."""
    for name in list(os.environ):
        if name.startswith("OTEL_") or name in ("NATS_URL", "HOOKMESH_ADMIN_TOKEN"):
            monkeypatch.delenv(name, raising=False)
