"""Process settings from the environment."""

from __future__ import annotations

import pytest

from shared.settings import DEFAULT_PORTS, Settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NATS_URL", "HOOKMESH_HOST", "HOOKMESH_INGRESS_PORT", "HOOKMESH_ADMIN_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()
    assert settings.nats_url == "nats://127.0.0.1:4222"
    assert settings.host == "127.0.0.1" and settings.ports == DEFAULT_PORTS and settings.admin_token is None


def test_ports_and_values_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKMESH_INGRESS_PORT", "9090")
    monkeypatch.setenv("HOOKMESH_HOST", "0.0.0.0")
    settings = Settings.from_env()
    assert settings.ports["ingress"] == 9090
    assert settings.url("ingress") == "http://127.0.0.1:9090"


def test_kubernetes_service_link_values_are_not_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKMESH_INGRESS_PORT", "tcp://10.96.0.12:8080")
    assert Settings.from_env().ports["ingress"] == DEFAULT_PORTS["ingress"]


def test_a_bad_number_stops_with_the_variable_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKMESH_ROUTING_PORT", "eighty")
    with pytest.raises(SystemExit, match="HOOKMESH_ROUTING_PORT='eighty' is not a whole number"):
        Settings.from_env()
