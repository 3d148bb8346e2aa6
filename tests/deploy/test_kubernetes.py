"""deploy/k8s: every overlay renders to objects valid for Kubernetes, and consistent with the code."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import kubernetes_validate
import pytest
from deploy_facts import (
    K8S,
    OVERLAYS,
    REPO,
    by_kind,
    code_env_names,
    container_env,
    deployment_for,
    dockerfile,
    load_yaml,
    pod_spec,
    rendered,
    resolve_port,
    secret_refs,
    settings_in,
    walk,
)
from kubernetes_validate.utils import all_versions, latest_version

from shared.cli.natsauth import helm_values, secret_key
from shared.config import Config, load_config
from shared.natsperms import service_user
from shared.settings import DEFAULT_PORTS, SERVICES


def k8s_versions() -> tuple[str, str]:
    """1.30 (the oldest minor still commonly run; or the oldest schema bundled, if newer) and the newest."""
    bundled = [tuple(int(n) for n in v.split(".")[:2]) for v in all_versions()]
    oldest = max(min(bundled), (1, 30))
    return f"{oldest[0]}.{oldest[1]}", latest_version()


K8S_VERSIONS = k8s_versions()
AUTOSCALED = ("validation", "routing", "delivery")
SECRET_NAME = "hookmesh-secrets"


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def objects(overlay: str) -> list[dict]:
    return rendered(overlay)


@pytest.fixture(scope="module")
def config(objects: list[dict], tmp_path_factory: pytest.TempPathFactory) -> Config:
    """The hookmesh.yaml of the ConfigMap the apply Job mounts, loaded by the code's own loader."""
    job = only(by_kind(objects, "Job"))
    path = job_config_path(job)
    volume = config_map_volume_at(pod_spec(job), path)
    data = by_kind(objects, "ConfigMap")[volume["configMap"]["name"]]["data"]
    file = tmp_path_factory.mktemp("config") / Path(path).name
    file.write_text(data[Path(path).name], encoding="utf-8")
    return load_config(file)


def only(mapping: dict[str, dict]) -> dict:
    assert len(mapping) == 1, f"expected exactly one, found {sorted(mapping)}"
    return next(iter(mapping.values()))


def job_config_path(job: dict) -> str:
    args = pod_spec(job)["containers"][0]["args"]
    assert args[:2] == ["apply", "-f"], "the Job runs `hookmesh apply -f FILE`"
    return args[2]


def config_map_volume_at(spec: dict, path: str) -> dict:
    container = spec["containers"][0]
    mount = next(m for m in container["volumeMounts"] if Path(path).parent == Path(m["mountPath"]))
    return next(v for v in spec["volumes"] if v["name"] == mount["name"])


def secret_files(spec: dict) -> dict[str, str]:
    """Path inside the container -> key of hookmesh-secrets, for the secret volumes a pod mounts."""
    volumes = {v["name"]: v["secret"] for v in spec.get("volumes", []) if "secret" in v}
    files = {}
    for mount in spec["containers"][0].get("volumeMounts", []):
        secret = volumes.get(mount["name"])
        if secret is None:
            continue
        assert secret["secretName"] == SECRET_NAME
        assert mount.get("readOnly") is True
        for item in secret.get("items", []):
            files[f"{mount['mountPath']}/{item['path']}"] = item["key"]
    return files


def example_secret_keys() -> set[str]:
    return set(load_yaml(K8S / "secret.example.yaml")["stringData"])


# ------------------------------------------------------------------------------------------ schema

@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_object_is_valid_for_kubernetes(objects: list[dict], version: str) -> None:
    assert objects
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} invalid for Kubernetes {version}: {path}: "
                        f"{exc.message}")


def test_strict_validation_catches_a_misspelt_field() -> None:
    deployment = deployment_for(rendered("dev"), "ingress")
    pod_spec(deployment)["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/readyz", "port": 1}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[0], strict=True)


# ------------------------------------------------------------------------------------------ the services

@pytest.mark.parametrize("service", SERVICES)
def test_each_service_runs_with_its_port_and_probes(objects: list[dict], service: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    deployment = deployment_for(objects, service)
    assert deployment["metadata"]["name"] == f"hookmesh-{service}"
    container = pod_spec(deployment)["containers"][0]
    assert container["args"] == ["run", service]
    settings = settings_in(container_env(objects, container), monkeypatch)
    assert settings.host == "0.0.0.0"
    assert settings.ports[service] == DEFAULT_PORTS[service]
    assert [p["containerPort"] for p in container["ports"]] == [DEFAULT_PORTS[service]]
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        get = container[probe]["httpGet"]
        assert get["path"] == path
        assert resolve_port(container, get["port"]) == DEFAULT_PORTS[service]


@pytest.mark.parametrize("service", SERVICES)
def test_every_hookmesh_variable_set_is_one_the_code_reads(objects: list[dict], config: Config,
                                                           service: str) -> None:
    container = pod_spec(deployment_for(objects, service))["containers"][0]
    config_envs = {ref.value for ref in secret_refs(config) if ref.kind == "env"}
    names = {name for name in container_env(objects, container) if name.startswith("HOOKMESH_")}
    assert not names - code_env_names() - config_envs


@pytest.mark.parametrize("service", SERVICES)
def test_nats_url_reaches_the_nats_helm_release(objects: list[dict], service: str) -> None:
    container = pod_spec(deployment_for(objects, service))["containers"][0]
    url = urlparse(container_env(objects, container)["NATS_URL"])
    assert (url.scheme, url.hostname, url.port) == ("nats", "nats", 4222)
    helm = (K8S.parent / "nats" / "values.yaml").read_text(encoding="utf-8")
    assert "helm upgrade --install nats nats/nats" in helm, "release `nats` makes the Service `nats`"


@pytest.mark.parametrize("service", SERVICES)
def test_grace_period_outlasts_the_drain(objects: list[dict], service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = pod_spec(deployment_for(objects, service))
    drain = settings_in(container_env(objects, spec["containers"][0]), monkeypatch).drain_grace
    assert "HOOKMESH_DRAIN_GRACE_SECONDS" in container_env(objects, spec["containers"][0])
    assert spec["terminationGracePeriodSeconds"] > drain


def test_pods_are_locked_down(objects: list[dict]) -> None:
    uid = next(i.args.split(":")[0] for i in reversed(dockerfile()) if i.keyword == "USER")
    for obj in [*by_kind(objects, "Deployment").values(), *by_kind(objects, "Job").values()]:
        name, spec = obj["metadata"]["name"], pod_spec(obj)
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["runAsUser"] == int(uid), f"{name}: the image's USER"
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        # Service links would set HOOKMESH_INGRESS_PORT=tcp://10.0.0.1:80 for the Service hookmesh-ingress
        # (and so on), and hookmesh reads those names as port numbers: every service would fail to start.
        assert spec["enableServiceLinks"] is False, name
        tmp_volumes = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            assert any(m["mountPath"] == "/tmp" and m["name"] in tmp_volumes for m in container["volumeMounts"])
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{name}: {kind}"


def test_service_links_would_collide_with_hookmesh_variables(objects: list[dict]) -> None:
    # Why enableServiceLinks must stay false: the variables Kubernetes would inject for these Services.
    injected = {f"{name.upper().replace('-', '_')}_PORT" for name in by_kind(objects, "Service")}
    assert injected & code_env_names()


# ------------------------------------------------------------------------------------------ scaling

def test_autoscalers_own_the_replicas_of_the_busy_stages(objects: list[dict]) -> None:
    hpas = by_kind(objects, "HorizontalPodAutoscaler")
    assert {h["apiVersion"] for h in hpas.values()} == {"autoscaling/v2"}
    targets = {h["spec"]["scaleTargetRef"]["name"] for h in hpas.values()}
    assert targets == {deployment_for(objects, s)["metadata"]["name"] for s in AUTOSCALED}
    for service in AUTOSCALED:
        assert "replicas" not in deployment_for(objects, service)["spec"], "the HPA owns the count"
    for hpa in hpas.values():
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_each_service_has_a_disruption_budget_selecting_it(objects: list[dict]) -> None:
    budgets = by_kind(objects, "PodDisruptionBudget")
    for service in SERVICES:
        labels = deployment_for(objects, service)["spec"]["template"]["metadata"]["labels"]
        matching = [b for b in budgets.values() if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert len(matching) == 1, f"{service}: {len(matching)} PodDisruptionBudgets"
        assert matching[0]["spec"].get("maxUnavailable") == 1, "lets a single replica be evicted too"


def test_services_expose_ingress_and_deadletter_inside_the_cluster(objects: list[dict]) -> None:
    services = by_kind(objects, "Service")
    exposed = set()
    for svc in services.values():
        assert svc["spec"].get("type", "ClusterIP") == "ClusterIP"
        selected = [s for s in SERVICES if svc["spec"]["selector"].items()
                    <= deployment_for(objects, s)["spec"]["template"]["metadata"]["labels"].items()]
        assert len(selected) == 1
        container = pod_spec(deployment_for(objects, selected[0]))["containers"][0]
        for port in svc["spec"]["ports"]:
            assert resolve_port(container, port["targetPort"]) == DEFAULT_PORTS[selected[0]]
        exposed.add(selected[0])
    assert exposed == {"ingress", "deadletter"}


# ------------------------------------------------------------------------------------------ config and secrets

def test_the_job_applies_the_generated_config(objects: list[dict], config: Config) -> None:
    job = only(by_kind(objects, "Job"))
    path = job_config_path(job)
    assert Path(path).is_absolute()
    volume = config_map_volume_at(pod_spec(job), path)
    assert re.fullmatch(r"hookmesh-config-[a-z0-9]{10}", volume["configMap"]["name"]), "generated, hashed"
    assert config.sources and config.destinations and config.routes
    env = container_env(objects, pod_spec(job)["containers"][0])
    assert env["HOOKMESH_REPLICAS"] == container_env(
        objects, pod_spec(deployment_for(objects, "ingress"))["containers"][0])["HOOKMESH_REPLICAS"]


def test_secrets_are_referenced_never_rendered(objects: list[dict]) -> None:
    for secret in by_kind(objects, "Secret").values():
        assert not secret.get("data") and not secret.get("stringData"), secret["metadata"]["name"]
    keys = example_secret_keys()
    for obj in objects:
        for key, value in walk(obj):
            if key == "secretKeyRef":
                assert value["name"] == SECRET_NAME and value["key"] in keys
                assert not value.get("optional")
            if key == "secret" and isinstance(value, dict) and "secretName" in value:
                assert value["secretName"] == SECRET_NAME
                assert {item["key"] for item in value["items"]} <= keys
            if key == "env":
                for var in value:
                    if re.search(r"TOKEN|SECRET|PASSWORD", var["name"]):
                        assert "value" not in var, f"{var['name']} written into a manifest"


def test_the_secret_example_is_never_applied() -> None:
    example = load_yaml(K8S / "secret.example.yaml")
    assert example["kind"] == "Secret" and example["metadata"]["name"] == SECRET_NAME
    assert all(v.startswith(("CHANGE-ME", "whsec_CHANGE-ME")) for v in example["stringData"].values())
    for kustomization in K8S.rglob("kustomization.yaml"):
        listed = load_yaml(kustomization)
        assert not any("secret.example" in entry for entry in listed.get("resources", []))
        assert "secretGenerator" not in listed


def test_deadletter_gets_its_admin_token_from_the_secret(objects: list[dict]) -> None:
    # Without HOOKMESH_ADMIN_TOKEN deadletter binds 127.0.0.1 only, and its probes would fail.
    container = pod_spec(deployment_for(objects, "deadletter"))["containers"][0]
    token = container_env(objects, container)["HOOKMESH_ADMIN_TOKEN"]
    assert token["secretKeyRef"]["name"] == SECRET_NAME


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_connects_to_nats_as_its_own_user(objects: list[dict], service: str) -> None:
    env = container_env(objects, pod_spec(deployment_for(objects, service))["containers"][0])
    assert env["NATS_USER"] == service_user(service)
    assert env["NATS_PASSWORD"]["secretKeyRef"] == {"name": SECRET_NAME, "key": secret_key(service_user(service))}
    assert not urlparse(env["NATS_URL"]).username, "no shared credentials in NATS_URL"


def test_only_the_apply_job_is_the_nats_admin(objects: list[dict]) -> None:
    job = only(by_kind(objects, "Job"))
    env = container_env(objects, pod_spec(job)["containers"][0])
    assert env["NATS_USER"] == "hookmesh"
    assert env["NATS_PASSWORD"]["secretKeyRef"] == {"name": SECRET_NAME, "key": secret_key("hookmesh")}
    users = {container_env(objects, pod_spec(d)["containers"][0]).get("NATS_USER")
             for d in by_kind(objects, "Deployment").values()}
    assert "hookmesh" not in users


def test_nats_users_in_the_helm_values_are_the_codes(config: Config) -> None:
    """deploy/nats/values.yaml holds what `hookmesh nats-auth --format helm` generates for this config."""
    values = load_yaml(K8S.parent / "nats" / "values.yaml")
    expected = helm_values(config.consumers)
    assert values["config"]["merge"]["authorization"] == expected["config"]["merge"]["authorization"], (
        "regenerate with `hookmesh nats-auth -f deploy/k8s/base/hookmesh.yaml --format helm`")
    assert values["container"]["env"] == expected["container"]["env"]
    assert {ref["secretKeyRef"]["key"] for ref in (v["valueFrom"] for v in values["container"]["env"].values())} \
        <= example_secret_keys()


def test_config_secrets_are_mounted_where_they_are_read(objects: list[dict], config: Config) -> None:
    refs = secret_refs(config)
    assert any(ref.kind == "file" for ref in refs)
    for ref in refs:
        spec = pod_spec(deployment_for(objects, ref.reader))
        if ref.kind == "file":
            files = secret_files(spec)
            assert ref.value in files, f"{ref.where}: {ref.value} is not mounted into {ref.reader}"
            assert files[ref.value] in example_secret_keys()
        else:
            assert ref.value in container_env(objects, spec["containers"][0]), f"{ref.where}: {ref.value} unset"


# ------------------------------------------------------------------------------------------ network

def policy_ports(rules: list[dict]) -> set[int]:
    return {port["port"] for rule in rules for port in rule.get("ports", [])}


def policies_for(objects: list[dict], labels: dict[str, str]) -> list[dict]:
    return [p for p in by_kind(objects, "NetworkPolicy").values()
            if p["spec"]["podSelector"].get("matchLabels", {}).items() <= labels.items()]


@pytest.mark.parametrize("service", SERVICES)
def test_network_policies_let_each_service_do_its_job(objects: list[dict], service: str) -> None:
    labels = deployment_for(objects, service)["spec"]["template"]["metadata"]["labels"]
    policies = policies_for(objects, labels)
    assert policies, f"{service}: no NetworkPolicy selects it"
    egress = [rule for p in policies for rule in p["spec"].get("egress", [])]
    assert {53, 4222} <= policy_ports(egress), "DNS and NATS"
    if service == "delivery":
        assert {80, 443} <= policy_ports(egress), "destinations"
    else:
        assert not {80, 443} & policy_ports(egress)
    if service == "ingress":
        ingress = [rule for p in policies for rule in p["spec"].get("ingress", [])]
        assert DEFAULT_PORTS["ingress"] in policy_ports(ingress)


def test_the_apply_job_may_reach_nats(objects: list[dict]) -> None:
    job = only(by_kind(objects, "Job"))
    egress = [r for p in policies_for(objects, job["spec"]["template"]["metadata"]["labels"])
              for r in p["spec"].get("egress", [])]
    assert 4222 in policy_ports(egress)


# ------------------------------------------------------------------------------------------ overlays

def replicas_env(objects: list[dict]) -> set[str]:
    pods = [*by_kind(objects, "Deployment").values(), *by_kind(objects, "Job").values()]
    return {container_env(objects, pod_spec(p)["containers"][0])["HOOKMESH_REPLICAS"] for p in pods}


def test_dev_runs_one_replica_of_everything() -> None:
    objects = rendered("dev")
    assert replicas_env(objects) == {"1"}
    for deployment in by_kind(objects, "Deployment").values():
        assert deployment["spec"].get("replicas", 1) == 1
    for hpa in by_kind(objects, "HorizontalPodAutoscaler").values():
        assert hpa["spec"]["minReplicas"] == hpa["spec"]["maxReplicas"] == 1


def test_prod_replicates_streams_and_services() -> None:
    objects = rendered("prod")
    assert replicas_env(objects) == {"3"}
    nats = load_yaml(K8S.parent / "nats" / "values.yaml")["config"]["cluster"]
    assert nats["replicas"] >= 3, "streams with 3 replicas need 3 NATS servers"
    for service in ("ingress", "deadletter"):
        assert deployment_for(objects, service)["spec"]["replicas"] >= 2
    for hpa in by_kind(objects, "HorizontalPodAutoscaler").values():
        assert hpa["spec"]["minReplicas"] >= 2
    dev, prod = (pod_spec(deployment_for(rendered(o), "routing"))["containers"][0]["resources"] for o in OVERLAYS)
    assert prod != dev, "prod has its own, higher, resources"


def test_prod_publishes_only_the_webhook_endpoint() -> None:
    objects = rendered("prod")
    ingress = only(by_kind(objects, "Ingress"))
    services = by_kind(objects, "Service")
    paths = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert [p["path"] for p in paths] == ["/v1/hooks"]
    backend = paths[0]["backend"]["service"]
    target = services[backend["name"]]
    assert [p["name"] for p in target["spec"]["ports"]] == [backend["port"]["name"]]
    assert target["spec"]["selector"]["app.kubernetes.io/component"] == "ingress"
    assert ingress["spec"]["tls"]


def test_images_are_pinned(objects: list[dict]) -> None:
    for obj in objects:
        for key, value in walk(obj):
            if key == "image":
                name, _, tag = value.rpartition(":")
                assert name and tag and tag != "latest" and "/" not in tag, value


def test_base_is_not_deployable_alone_but_every_overlay_builds_on_it() -> None:
    for overlay in OVERLAYS:
        assert "../../base" in load_yaml(K8S / "overlays" / overlay / "kustomization.yaml")["resources"]
    assert not load_yaml(K8S / "base" / "kustomization.yaml").get("namespace")
    assert (REPO / "deploy" / "README.md").is_file()
