"""deploy/healthcheck.py, the image's HEALTHCHECK, against real HTTP servers on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from deploy_facts import DEPLOY, load_module

from shared.settings import SERVICES, port_env

healthcheck = load_module(DEPLOY / "healthcheck.py", "hookmesh_image_healthcheck")


@contextmanager
def http_server(status: int) -> Iterator[int]:
    """A server on 127.0.0.1 answering every GET /healthz with `status`; yields its port."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(status if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert all(path == "/healthz" for path in seen)


@pytest.mark.parametrize(("argv", "service"), [
    (["hookmesh", "run", "routing"], "routing"),
    (["/usr/local/bin/python", "/usr/local/bin/hookmesh", "run", "deadletter"], "deadletter"),
    (["hookmesh", "apply", "-f", "/config/hookmesh.yaml"], None),
    (["hookmesh", "run"], None),
    (["python", "/opt/demo/demo_consumer.py"], None),
])
def test_finds_the_service_in_the_command_line(argv: list[str], service: str | None) -> None:
    assert healthcheck.service_from_argv(argv) == service


def test_reads_a_nul_separated_command_line(tmp_path: Path) -> None:
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(b"/usr/local/bin/python\0/usr/local/bin/hookmesh\0run\0ingress\0")
    assert healthcheck.pid1_argv(cmdline) == ["/usr/local/bin/python", "/usr/local/bin/hookmesh", "run", "ingress"]
    assert healthcheck.pid1_argv(tmp_path / "missing") == []


@pytest.mark.parametrize("service", SERVICES)
def test_healthy_when_the_service_port_answers_200(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with http_server(200) as port:
        monkeypatch.setenv(port_env(service), str(port))
        monkeypatch.setattr(healthcheck, "pid1_argv", lambda: ["hookmesh", "run", service])
        assert healthcheck.main([]) == 0
        assert healthcheck.main([service]) == 0


def test_unhealthy_on_an_error_status_or_a_closed_port(monkeypatch: pytest.MonkeyPatch) -> None:
    with http_server(503) as port:
        monkeypatch.setenv(port_env("delivery"), str(port))
        assert healthcheck.main(["delivery"]) == 1
    monkeypatch.setenv(port_env("delivery"), str(port))  # the server is gone now
    assert healthcheck.main(["delivery"]) == 1


def test_a_container_running_no_service_is_healthy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(healthcheck, "pid1_argv", lambda: ["hookmesh", "apply", "-f", "/config/hookmesh.yaml"])
    assert healthcheck.main([]) == 0
    assert healthcheck.main(["nonsense"]) == 2
