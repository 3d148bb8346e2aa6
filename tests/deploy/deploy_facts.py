"""What the deployment tests compare against: facts read from the code and the repository, never restated.

Shared by test_compose.py, test_dockerfile.py, test_kubernetes.py and test_nats_values.py.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import kustomize_render
import pytest
import yaml

from shared.config import Auth, Config, Destination
from shared.settings import SERVICES, Settings, port_env

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = ("dev", "prod")
ENV_NAME_RE = re.compile(r"HOOKMESH_[A-Z_]+")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_module(path: Path, name: str) -> ModuleType:
    """Import a script that is not on sys.path (deploy/healthcheck.py, deploy/compose/demo_consumer.py)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------------------ the code

@functools.cache
def code_env_names() -> frozenset[str]:
    """Every HOOKMESH_* name in the sources of shared/ and services/, plus each service's port variable."""
    names: set[str] = set()
    for package in ("shared", "services"):
        for source in (REPO / package).rglob("*.py"):
            names.update(name.rstrip("_") for name in ENV_NAME_RE.findall(source.read_text(encoding="utf-8")))
    names.update(port_env(service) for service in SERVICES)
    return frozenset(names)


@dataclass(frozen=True)
class SecretRef:
    reader: str    # the service that resolves it: ingress (sources) or delivery (destinations)
    where: str     # for messages: sources[0].auth.token_file
    kind: str      # "env" or "file"
    value: str     # the variable name or the path


def secret_refs(config: Config) -> list[SecretRef]:
    """The *_env and *_file fields a configuration sets, with the service that reads each."""
    refs: list[SecretRef] = []
    items: list[tuple[str, str, Any]] = [("ingress", f"sources[{i}].auth", src.auth)
                                         for i, src in enumerate(config.sources)]
    items += [("delivery", f"destinations[{i}]", dst) for i, dst in enumerate(config.destinations)]
    for reader, where, item in items:
        assert isinstance(item, Auth | Destination)
        for field in item.__struct_fields__:
            value = getattr(item, field)
            if value and field.endswith(("_env", "_file")):
                refs.append(SecretRef(reader, f"{where}.{field}", field.rsplit("_", 1)[1], value))
    return refs


def settings_in(env: Mapping[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The Settings of a process with exactly this environment, as far as hookmesh reads it (values that
    are not strings, such as a Kubernetes valueFrom, are left unset)."""
    for var in list(os.environ):
        if var.startswith("HOOKMESH_") or var == "NATS_URL":
            monkeypatch.delenv(var)
    for var, value in env.items():
        if isinstance(value, str):
            monkeypatch.setenv(var, value)
    return Settings.from_env()


# ------------------------------------------------------------------------------------------ compose

def compose() -> dict[str, Any]:
    return load_yaml(REPO / "compose.yaml")


_INTERPOLATION = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>[^}]*))?\}")


def interpolate(value: str, env: Mapping[str, str] | None = None) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR-default} (and $$), against `env` (empty by default)."""
    env = env or {}

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, default = match.group("name", "op", "default")
        if name in env and (env[name] or op != ":-"):
            return env[name]
        return default or ""

    return _INTERPOLATION.sub(substitute, value)


def service_env(service: dict[str, Any]) -> dict[str, str]:
    """A compose service's environment (mapping or list form), interpolated with defaults."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {name: interpolate(str(value)) for name, value in env.items()}


# ------------------------------------------------------------------------------------------ Dockerfile

@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    stage: int  # index of the FROM it belongs to


def dockerfile() -> list[Instruction]:
    """deploy/Dockerfile as instructions: continuation lines joined, comments dropped."""
    instructions: list[Instruction] = []
    stage = -1
    pending = ""
    for raw in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, args.strip(), stage))
    return instructions


def run_words(instruction: Instruction) -> list[str]:
    """The words of a RUN, without BuildKit --mount/--network flags."""
    words = shlex.split(instruction.args)
    while words and words[0].startswith("--"):
        words.pop(0)
    return words


# ------------------------------------------------------------------------------------------ Kubernetes

@functools.cache
def _rendered(directory: Path) -> tuple[dict[str, Any], ...]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return tuple(kustomize_render.render(directory))
    out = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    return tuple(doc for doc in yaml.safe_load_all(out) if doc)


def rendered(overlay: str) -> list[dict[str, Any]]:
    """The objects of deploy/k8s/overlays/OVERLAY: `kubectl kustomize` where kubectl is on PATH, else the
    renderer of kustomize_render.py (test_kustomize_render.py checks the two agree)."""
    return copy.deepcopy(list(_rendered(K8S / "overlays" / overlay)))


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def deployment_for(objects: list[dict[str, Any]], service: str) -> dict[str, Any]:
    """The Deployment whose container runs `hookmesh run SERVICE`."""
    found = [d for d in by_kind(objects, "Deployment").values()
             if d["spec"]["template"]["spec"]["containers"][0].get("args", [])[:2] == ["run", service]]
    assert len(found) == 1, f"expected one Deployment running `run {service}`, found {len(found)}"
    return found[0]


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def container_env(objects: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, Any]:
    """The environment a container gets: envFrom ConfigMaps resolved, then env (values or valueFrom)."""
    config_maps = by_kind(objects, "ConfigMap")
    env: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        assert "configMapRef" in source, f"envFrom only from ConfigMaps, got {source}"
        env.update(config_maps[source["configMapRef"]["name"]]["data"])
    for var in container.get("env", []):
        env[var["name"]] = var["value"] if "value" in var else var["valueFrom"]
    return env


def resolve_port(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in container.get("ports", []) if "name" in p}
    assert port in named, f"port name {port!r} is not a port of container {container['name']}"
    return named[port]


def walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in a nested structure."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)
