"""Connecting to a NATS server that requires authentication: user/password (from NATS_USER/NATS_PASSWORD
or in NATS_URL), a token, an nkey, and TLS with a generated CA and client certificate. Each against a real
nats-server configured for it; without the credentials the connection is refused."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import nats.errors
import nkeys
import pytest

from shared import nats_runtime, subjects
from shared.embedded_nats import EmbeddedNats, free_port
from shared.envelope import new_event, new_event_id
from shared.metrics import StageMetrics, new_registry
from shared.settings import redact_url
from shared.streams import ensure_streams
from shared.tracing import tracer_for
from tests.support.tls import TestCA

pytestmark = pytest.mark.e2e
NATS_ENV = ("NATS_USER", "NATS_PASSWORD", "NATS_TOKEN", "NATS_NKEY_SEED_FILE", "NATS_CREDS", "NATS_CA",
            "NATS_CERT", "NATS_KEY")


@pytest.fixture(autouse=True)
def _clean_nats_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NATS_ENV:
        monkeypatch.delenv(name, raising=False)


def secured_server(tmp_path: Path, block: str) -> Iterator[EmbeddedNats]:
    conf = tmp_path / "auth.conf"
    conf.write_text(block)
    server = EmbeddedNats(tmp_path / "js", port=free_port(), extra_args=["-c", str(conf)],
                          log_file=tmp_path / "nats.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def stores_an_event(url: str) -> None:
    """Connect as the services do, provision the streams and publish one event with its ack."""
    nc = await nats_runtime.connect(url, "auth-test")
    try:
        await ensure_streams(nc.jetstream())
        registry = new_registry()
        publisher = nats_runtime.Publisher(nc, tracer_for("tests"), StageMetrics(registry, "tests"))
        event = new_event(id=new_event_id(), source="/hookmesh/sources/shop", type="com.acme.order.created")
        ack = await publisher.publish_event(subjects.ingress("shop"), event, msg_id=event.id,
                                            stream=subjects.INGRESS_STREAM)
        assert ack.stream == subjects.INGRESS_STREAM and ack.seq >= 1
        await publisher.close()
    finally:
        await nc.close()


async def refused(url: str) -> None:
    with pytest.raises((nats.errors.Error, OSError, TimeoutError)):
        nc = await nats_runtime.connect(url, "auth-test", connect_timeout=1.0)
        await nc.close()


@pytest.fixture
def password_server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    yield from secured_server(tmp_path, 'authorization { user: "hookmesh", password: "pw-7f3a9c" }\n')


async def test_user_and_password_from_the_environment(password_server: EmbeddedNats,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    await refused(password_server.url)
    monkeypatch.setenv("NATS_USER", "hookmesh")
    monkeypatch.setenv("NATS_PASSWORD", "wrong")
    await refused(password_server.url)
    monkeypatch.setenv("NATS_PASSWORD", "pw-7f3a9c")
    await stores_an_event(password_server.url)


async def test_user_and_password_in_the_url_which_logs_never_show(password_server: EmbeddedNats) -> None:
    url = f"nats://hookmesh:pw-7f3a9c@127.0.0.1:{password_server.port}"
    await stores_an_event(url)
    assert "pw-7f3a9c" not in redact_url(url) and redact_url(url).endswith(f"@127.0.0.1:{password_server.port}")


@pytest.fixture
def token_server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    yield from secured_server(tmp_path, 'authorization { token: "tok-51d0e2" }\n')


async def test_token(token_server: EmbeddedNats, monkeypatch: pytest.MonkeyPatch) -> None:
    await refused(token_server.url)
    monkeypatch.setenv("NATS_TOKEN", "tok-51d0e2")
    await stores_an_event(token_server.url)


@pytest.fixture
def nkey_seed(tmp_path: Path) -> tuple[Path, str]:
    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    public = nkeys.from_seed(bytearray(seed)).public_key.decode()
    path = tmp_path / "hookmesh.nk"
    path.write_bytes(seed)
    path.chmod(0o600)
    return path, public


async def test_nkey(tmp_path: Path, nkey_seed: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    seed_file, public = nkey_seed
    for server in secured_server(tmp_path, f'authorization {{ users = [ {{ nkey: "{public}" }} ] }}\n'):
        await refused(server.url)
        other = tmp_path / "other.nk"
        other.write_bytes(nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER))
        monkeypatch.setenv("NATS_NKEY_SEED_FILE", str(other))
        await refused(server.url)
        monkeypatch.setenv("NATS_NKEY_SEED_FILE", str(seed_file))
        await stores_an_event(server.url)


async def test_tls_with_a_generated_ca_and_client_certificate(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    ca = TestCA(tmp_path / "pki")
    server_cert, client_cert = ca.issue("nats-server", server=True), ca.issue("hookmesh", server=False)
    block = (f'tls {{\n  cert_file: "{server_cert.cert}"\n  key_file: "{server_cert.key}"\n'
             f'  ca_file: "{ca.pem}"\n  verify: true\n  timeout: 2\n}}\n')
    for server in secured_server(tmp_path, block):
        url = f"tls://127.0.0.1:{server.port}"
        await refused(url)  # the server's certificate is not trusted by default
        monkeypatch.setenv("NATS_CA", str(ca.pem))
        await refused(url)  # trusted, but the server wants a client certificate (verify: true)
        stranger = TestCA(tmp_path / "other-pki").issue("stranger", server=False)
        monkeypatch.setenv("NATS_CERT", str(stranger.cert))
        monkeypatch.setenv("NATS_KEY", str(stranger.key))
        await refused(url)  # a client certificate from another CA
        monkeypatch.setenv("NATS_CERT", str(client_cert.cert))
        monkeypatch.setenv("NATS_KEY", str(client_cert.key))
        await stores_an_event(url)
        await stores_an_event(server.url)  # nats:// upgrades to TLS when the server requires it
