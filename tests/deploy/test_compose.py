"""compose.yaml against the Compose spec and against the code: commands, ports, env names, config."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
from compose_spec import PyCompose
from deploy_facts import REPO, code_env_names, compose, interpolate, secret_refs, service_env, settings_in

from shared.config import load_config
from shared.settings import DEFAULT_PORTS, SERVICES

HEALTH_URL = re.compile(r"http://(?:127\.0\.0\.1|localhost):(\d+)(/[\w?=&-]*)")


def host_path(volume: str) -> tuple[Path, str]:
    """`./deploy/x.yaml:/config/x.yaml:ro` -> (repo path, container path)."""
    source, target = volume.split(":")[:2]
    return (REPO / source).resolve(), target


def healthcheck_urls(service: dict) -> list[tuple[int, str]]:
    test = service["healthcheck"]["test"]
    text = " ".join(test) if isinstance(test, list) else test
    return [(int(port), path) for port, path in HEALTH_URL.findall(text)]


def published(service: dict) -> dict[int, str]:
    """container port -> the short-syntax entry that publishes it."""
    ports = {}
    for entry in service.get("ports", []):
        ports[int(str(entry).rsplit(":", 1)[-1].split("/")[0])] = str(entry)
    return ports


@pytest.fixture(scope="module")
def doc() -> dict:
    return compose()


@pytest.fixture(scope="module")
def compose_config_path(doc: dict) -> Path:
    init = doc["services"]["init"]
    file = init["command"][init["command"].index("-f") + 1]
    mounts = dict(reversed(host_path(v)) for v in init["volumes"])
    assert file in mounts, f"init applies {file}, which no volume mounts"
    return mounts[file]


def test_compose_file_is_valid_for_the_compose_spec(doc: dict) -> None:
    compose = PyCompose.from_json(json.dumps(doc))  # strict: unknown keys and bad values raise ValueError
    compose.validate()
    assert set(compose.service_names()) >= {*SERVICES, "nats", "jaeger", "init"}


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_runs_its_command_from_the_one_image(doc: dict, name: str) -> None:
    service = doc["services"][name]
    assert service["command"] == ["run", name]
    assert service["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}
    assert (REPO / service["build"]["dockerfile"]).is_file()
    images = {doc["services"][s]["image"] for s in SERVICES} | {doc["services"]["init"]["image"]}
    assert images == {service["image"]}, "one image for all hookmesh containers"


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_listens_on_all_interfaces_and_checks_its_own_port(
        doc: dict, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_in(service_env(doc["services"][name]), monkeypatch)
    assert settings.host == "0.0.0.0"
    assert settings.ports[name] == DEFAULT_PORTS[name]
    urls = healthcheck_urls(doc["services"][name])
    assert urls, f"{name}: the healthcheck requests no http://127.0.0.1:PORT/ URL"
    for port, path in urls:
        assert port == settings.ports[name], f"{name}: healthcheck on {port}, service on {settings.ports[name]}"
        assert path in ("/healthz", "/readyz")


@pytest.mark.parametrize("name", SERVICES)
def test_every_hookmesh_variable_set_is_one_the_code_reads(doc: dict, name: str, compose_config_path: Path) -> None:
    config_envs = {ref.value for ref in secret_refs(load_config(compose_config_path)) if ref.kind == "env"}
    env = service_env(doc["services"][name])
    unknown = {var for var in env if var.startswith("HOOKMESH_")} - code_env_names() - config_envs
    assert not unknown, f"{name} sets variables hookmesh never reads: {sorted(unknown)}"


@pytest.mark.parametrize("name", [*SERVICES, "init"])
def test_nats_url_points_at_the_nats_service(doc: dict, name: str) -> None:
    url = urlparse(service_env(doc["services"][name])["NATS_URL"])
    assert url.scheme == "nats"
    assert url.hostname in doc["services"]
    assert url.hostname == "nats"
    assert url.port == 4222
    depends = doc["services"][name]["depends_on"]
    assert depends["nats"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", SERVICES)
def test_services_start_after_init_applied_the_config(doc: dict, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    service = doc["services"][name]
    assert service["depends_on"]["init"]["condition"] == "service_completed_successfully"
    drain = settings_in(service_env(service), monkeypatch).drain_grace
    grace = service.get("stop_grace_period", "10s")
    assert re.fullmatch(r"\d+s", grace)
    assert int(grace[:-1]) > drain, "compose must wait longer than the drain before it kills the container"


@pytest.mark.parametrize("name", SERVICES)
def test_services_run_read_only_without_privileges(doc: dict, name: str) -> None:
    service = doc["services"][name]
    assert service["read_only"] is True
    assert "/tmp" in service["tmpfs"]
    assert service["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in service["security_opt"]


def test_ingress_and_deadletter_ports_are_published(doc: dict) -> None:
    assert DEFAULT_PORTS["ingress"] in published(doc["services"]["ingress"])
    assert DEFAULT_PORTS["deadletter"] in published(doc["services"]["deadletter"])


def test_deadletter_has_an_admin_token_with_a_dev_only_default(doc: dict) -> None:
    # Without a token the dead-letter API binds 127.0.0.1 inside the container: unreachable.
    raw = doc["services"]["deadletter"]["environment"]["HOOKMESH_ADMIN_TOKEN"]
    assert re.fullmatch(r"\$\{HOOKMESH_ADMIN_TOKEN:-[^}]+\}", raw), "an env var override with a default"
    assert "dev-only" in interpolate(raw)
    others = [s for s in SERVICES if s != "deadletter"]
    assert all("HOOKMESH_ADMIN_TOKEN" not in service_env(doc["services"][s]) for s in others)


def test_init_applies_a_config_file_of_the_repo_that_loads(doc: dict, compose_config_path: Path) -> None:
    init = doc["services"]["init"]
    assert init["command"][:2] == ["apply", "-f"]
    assert init["restart"] == "no"
    assert init["depends_on"]["nats"]["condition"] == "service_healthy"
    assert compose_config_path.is_file()
    assert compose_config_path.is_relative_to(REPO / "deploy" / "compose")
    config = load_config(compose_config_path)
    assert config.sources and config.destinations and config.routes


def test_nats_runs_jetstream_on_a_named_volume_with_a_health_check(doc: dict) -> None:
    nats = doc["services"]["nats"]
    match = re.fullmatch(r"nats:2\.(\d+)(?:\.\d+)?(?:-[a-z0-9.]+)?", nats["image"])
    assert match and int(match.group(1)) >= 11, nats["image"]
    command = nats["command"]
    assert "-js" in command
    assert command[command.index("-sd") + 1] == "/data"
    assert command[command.index("-m") + 1] == "8222"
    volume, target = nats["volumes"][0].split(":")[:2]
    assert target == "/data" and volume in doc["volumes"], "JetStream data on a named volume"
    health = " ".join(nats["healthcheck"]["test"])
    assert "http://127.0.0.1:8222/healthz?js-enabled-only=true" in health


def test_traces_go_to_jaeger_v2(doc: dict) -> None:
    jaeger = doc["services"]["jaeger"]
    assert re.fullmatch(r"jaegertracing/jaeger:2\.\d+\.\d+", jaeger["image"])
    assert {16686, 4317, 4318} <= set(published(jaeger))
    for name in SERVICES:
        env = service_env(doc["services"][name])
        endpoint = urlparse(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
        assert endpoint.hostname == "jaeger"
        protocol = env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        assert endpoint.port == {"http/protobuf": 4318, "grpc": 4317}[protocol]


def test_the_destination_is_the_demo_consumer_on_the_compose_network(doc: dict, compose_config_path: Path) -> None:
    config = load_config(compose_config_path)
    assert len(config.destinations) == 1
    destination = config.destinations[0]
    url = urlparse(destination.url)
    consumer = doc["services"][url.hostname]
    assert destination.allow_private_network, "a compose service has a private address"
    assert int(service_env(consumer)["DEMO_CONSUMER_PORT"]) == url.port
    assert url.path == "/hooks"
    assert [p for p, _ in healthcheck_urls(consumer)] == [url.port]
    script, target = host_path(consumer["volumes"][0])
    assert consumer["entrypoint"] == ["python", target]
    assert script.is_file() and script.is_relative_to(REPO / "deploy" / "compose")


def test_secrets_named_by_the_config_are_set_where_they_are_read(doc: dict, compose_config_path: Path) -> None:
    config = load_config(compose_config_path)
    consumer = urlparse(config.destinations[0].url).hostname
    for ref in secret_refs(config):
        assert ref.kind == "env", f"{ref.where}: compose passes secrets as environment variables"
        value = service_env(doc["services"][ref.reader]).get(ref.value)
        assert value, f"{ref.where} names {ref.value}, which {ref.reader} does not set"
        if ref.reader == "delivery":
            assert service_env(doc["services"][consumer])[ref.value] == value, "the consumer verifies with it"
            assert value.startswith("whsec_"), "a Standard Webhooks secret"
            base64.b64decode(value.removeprefix("whsec_"), validate=True)
