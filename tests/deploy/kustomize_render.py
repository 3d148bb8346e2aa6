"""A small Kustomize renderer for the tests: only what deploy/k8s uses, and an error for anything else.

Supported kustomization fields: resources (files and directories), configMapGenerator (files, literals;
behavior create/merge/replace; names get Kustomize's content hash and references are rewritten),
patches (strategic merge, from `path` or inline `patch`, optionally with a `target` of kind, name or
labelSelector), replicas, images and namespace. test_kustomize_render.py checks that the output equals
`kubectl kustomize` wherever kubectl is on PATH.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

SUPPORTED_FIELDS = {"apiVersion", "kind", "resources", "configMapGenerator", "patches", "replicas", "images",
                    "namespace"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                  "PersistentVolume", "StorageClass", "IngressClass", "PriorityClass"}
SCALABLE = {"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"}
# Strategic merge: lists merged by these keys (by field name); other lists are replaced.
MERGE_KEYS = {"containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
              "volumes": "name", "volumeMounts": "mountPath", "imagePullSecrets": "name",
              "topologySpreadConstraints": "topologyKey"}
GENERATED = "__generated__"  # marker key on ConfigMaps made by configMapGenerator, removed on output


class KustomizeError(ValueError):
    pass


def render(directory: str | Path) -> list[Resource]:
    """The resources `kubectl kustomize DIRECTORY` would print (in no particular order)."""
    resources = _build(Path(directory))
    _hash_generated_names(resources)
    for res in resources:
        res.pop(GENERATED, None)
    return resources


def _build(directory: Path) -> list[Resource]:
    path = directory / "kustomization.yaml"
    if not path.is_file():
        raise KustomizeError(f"{directory} has no kustomization.yaml")
    kust = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = set(kust) - SUPPORTED_FIELDS
    if unknown:
        raise KustomizeError(f"{path}: this renderer does not support {sorted(unknown)}")
    resources: list[Resource] = []
    for entry in kust.get("resources", []):
        target = directory / entry
        if target.is_dir():
            resources.extend(_build(target))
        else:
            resources.extend(doc for doc in yaml.safe_load_all(target.read_text(encoding="utf-8")) if doc)
    for gen in kust.get("configMapGenerator", []):
        _generate_config_map(directory, gen, resources)
    for patch in kust.get("patches", []):
        _apply_patch(directory, patch, resources)
    for rep in kust.get("replicas", []):
        matches = [r for r in resources if r["kind"] in SCALABLE and r["metadata"]["name"] == rep["name"]]
        if not matches:
            raise KustomizeError(f"replicas: no Deployment or StatefulSet named {rep['name']}")
        for res in matches:
            res["spec"]["replicas"] = rep["count"]
    for image in kust.get("images", []):
        _set_image(image, resources)
    if "namespace" in kust:
        for res in resources:
            if res["kind"] not in CLUSTER_SCOPED:
                res["metadata"]["namespace"] = kust["namespace"]
    return resources


# ------------------------------------------------------------------------------------------ generators

def _generate_config_map(directory: Path, gen: dict[str, Any], resources: list[Resource]) -> None:
    unknown = set(gen) - {"name", "files", "literals", "behavior"}
    if unknown:
        raise KustomizeError(f"configMapGenerator {gen.get('name')}: unsupported {sorted(unknown)}")
    data: dict[str, str] = {}
    for entry in gen.get("files", []):
        key, sep, rel = entry.partition("=")
        if not sep:
            key, rel = Path(entry).name, entry
        data[key] = (directory / rel).read_text(encoding="utf-8")
    for literal in gen.get("literals", []):
        key, sep, value = literal.partition("=")
        if not sep:
            raise KustomizeError(f"literal {literal!r} is not KEY=VALUE")
        data[key] = value
    behavior = gen.get("behavior", "create")
    existing = [r for r in resources if r["kind"] == "ConfigMap" and r["metadata"]["name"] == gen["name"]]
    if behavior == "create":
        if existing:
            raise KustomizeError(f"ConfigMap {gen['name']} already exists; use behavior merge or replace")
        resources.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": gen["name"]},
                          "data": data, GENERATED: True})
    elif behavior in ("merge", "replace"):
        if len(existing) != 1:
            raise KustomizeError(f"behavior {behavior}: no ConfigMap {gen['name']} to {behavior}")
        existing[0]["data"] = {**existing[0].get("data", {}), **data} if behavior == "merge" else data
    else:
        raise KustomizeError(f"unknown behavior {behavior!r}")


def config_map_hash(data: dict[str, str]) -> str:
    """Kustomize's name suffix: sha256 of the Go JSON encoding of the kind and data; 10 hex digits with
    the ones that could spell words swapped for letters. Kustomize (v5) encodes an empty name and, for
    no data, an empty string; the known answers in test_kustomize_render.py pin this down."""
    encoded = json.dumps({"data": data or "", "kind": "ConfigMap", "name": ""}, sort_keys=True,
                         separators=(",", ":"), ensure_ascii=False)
    if "\b" in encoded or "\f" in encoded:
        raise KustomizeError("ConfigMap data with \\b or \\f: Go and Python JSON encode those differently")
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                          ("\u2029", "\\u2029")):
        encoded = encoded.replace(char, escaped)
    digest = hashlib.sha256(encoded.encode("utf-8")).hexdigest()[:10]
    return digest.translate(str.maketrans("013ae", "ghkmt"))


def _hash_generated_names(resources: list[Resource]) -> None:
    renamed: dict[tuple[str | None, str], str] = {}
    for res in resources:
        if res.get(GENERATED):
            meta = res["metadata"]
            new = f"{meta['name']}-{config_map_hash(res.get('data', {}))}"
            renamed[(meta.get("namespace"), meta["name"])] = new
            meta["name"] = new
    for res in resources:
        namespace = res["metadata"].get("namespace")
        for spec in pod_specs(res):
            for ref in _config_map_refs(spec):
                new = renamed.get((namespace, ref["name"]))
                if new:
                    ref["name"] = new


def _config_map_refs(spec: dict[str, Any]) -> list[dict[str, Any]]:
    refs = []
    for volume in spec.get("volumes", []):
        if "configMap" in volume:
            refs.append(volume["configMap"])
        for source in volume.get("projected", {}).get("sources", []):
            if "configMap" in source:
                refs.append(source["configMap"])
    for container in containers(spec):
        refs.extend(e["configMapRef"] for e in container.get("envFrom", []) if "configMapRef" in e)
        refs.extend(e["valueFrom"]["configMapKeyRef"] for e in container.get("env", [])
                    if "configMapKeyRef" in e.get("valueFrom", {}))
    return refs


# ------------------------------------------------------------------------------------------ pod specs

def pod_specs(res: Resource) -> list[dict[str, Any]]:
    kind, spec = res["kind"], res.get("spec", {})
    if kind == "Pod":
        return [spec]
    if kind == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    if "template" in spec and isinstance(spec["template"], dict) and "spec" in spec["template"]:
        return [spec["template"]["spec"]]
    return []


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def _set_image(image: dict[str, Any], resources: list[Resource]) -> None:
    unknown = set(image) - {"name", "newName", "newTag", "digest"}
    if unknown:
        raise KustomizeError(f"images: unsupported {sorted(unknown)}")
    for res in resources:
        for spec in pod_specs(res):
            for container in containers(spec):
                current = container.get("image", "")
                name, tag, digest = _split_image(current)
                if name != image["name"]:
                    continue
                name = image.get("newName", name)
                if "digest" in image:
                    container["image"] = f"{name}@{image['digest']}"
                elif "newTag" in image:
                    container["image"] = f"{name}:{image['newTag']}"
                else:
                    container["image"] = name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def _split_image(image: str) -> tuple[str, str | None, str | None]:
    name, _, digest = image.partition("@")
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    return name, tag, digest or None


# ------------------------------------------------------------------------------------------ patches

def _apply_patch(directory: Path, patch: dict[str, Any], resources: list[Resource]) -> None:
    unknown = set(patch) - {"path", "patch", "target"}
    if unknown:
        raise KustomizeError(f"patches: unsupported {sorted(unknown)}")
    text = (directory / patch["path"]).read_text(encoding="utf-8") if "path" in patch else patch["patch"]
    body = yaml.safe_load(text)
    if not isinstance(body, dict):
        raise KustomizeError("only strategic merge patches are supported (not JSON 6902)")
    target = patch.get("target")
    if target:
        matches = [r for r in resources if _selected(r, target)]
        body = copy.deepcopy(body)
        for field in ("name", "namespace"):
            body.get("metadata", {}).pop(field, None)
    else:
        matches = [r for r in resources
                   if r["kind"] == body["kind"] and r["metadata"]["name"] == body["metadata"]["name"]]
    if not matches:
        raise KustomizeError(f"patch {patch.get('path', '<inline>')} matches no resource")
    for res in matches:
        merged = strategic_merge(res, {k: v for k, v in body.items() if k not in ("apiVersion", "kind")})
        res.clear()
        res.update(merged)


def _selected(res: Resource, target: dict[str, Any]) -> bool:
    unknown = set(target) - {"kind", "name", "labelSelector"}
    if unknown:
        raise KustomizeError(f"patch target: unsupported {sorted(unknown)}")
    if "kind" in target and res["kind"] != target["kind"]:
        return False
    if "name" in target and not re.fullmatch(target["name"], res["metadata"]["name"]):
        return False
    if "labelSelector" in target:
        labels = res["metadata"].get("labels", {})
        for term in target["labelSelector"].split(","):
            key, sep, value = term.partition("=")
            if not sep or "!" in key:
                raise KustomizeError(f"labelSelector {target['labelSelector']!r}: only k=v terms are supported")
            if labels.get(key.strip()) != value.strip():
                return False
    return True


def strategic_merge(original: Any, patch: Any, field: str = "") -> Any:
    """Kubernetes strategic merge of `patch` into `original` (for the fields in MERGE_KEYS; other lists
    are replaced, maps are merged, null deletes)."""
    if isinstance(patch, dict):
        if any(key.startswith("$") for key in patch):
            raise KustomizeError(f"patch directives are not supported: {sorted(patch)}")
        result = dict(original) if isinstance(original, dict) else {}
        for key, value in patch.items():
            if value is None:
                result.pop(key, None)
            else:
                result[key] = strategic_merge(result.get(key), value, key)
        return result
    if isinstance(patch, list):
        key = _list_merge_key(field, patch)
        if key is None or not isinstance(original, list):
            return copy.deepcopy(patch)
        # Kustomize's order: the patch's items (merged with the originals of the same key), then the
        # originals the patch does not name.
        by_key = {old.get(key): old for old in original}
        result = [strategic_merge(by_key[item.get(key)], item, field) if item.get(key) in by_key
                  else copy.deepcopy(item) for item in patch]
        named = {item.get(key) for item in patch}
        result += [copy.deepcopy(old) for old in original if old.get(key) not in named]
        return result
    return patch


def _list_merge_key(field: str, items: list[Any]) -> str | None:
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    if field == "ports":  # container ports merge on containerPort, Service ports on port
        return "containerPort" if "containerPort" in items[0] else "port"
    return MERGE_KEYS.get(field)
