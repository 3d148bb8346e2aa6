"""kustomize_render.py, the renderer used where kubectl is missing: known answers, and kubectl's output."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import kustomize_render
import pytest
import yaml
from deploy_facts import K8S, OVERLAYS


def keyed(objects: list[dict]) -> dict[tuple[str, str], dict]:
    return {(obj["kind"], obj["metadata"]["name"]): obj for obj in objects}


@pytest.mark.parametrize(("data", "suffix"), [
    # Kustomize's own known answers (api/hasher tests): the suffix depends on the data only.
    ({"one": ""}, "9g67k2htb6"),
    ({"two": "2", "one": "", "three": "3"}, "f5h7t85m9b"),
    ({}, "6ct58987ht"),
])
def test_config_map_hash_matches_kustomize(data: dict[str, str], suffix: str) -> None:
    assert kustomize_render.config_map_hash(data) == suffix


@pytest.mark.parametrize("directory", ["base", *(f"overlays/{o}" for o in OVERLAYS)])
def test_renders_what_kubectl_kustomize_renders(directory: str) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not on PATH; the known answers above still pin the renderer down")
    out = subprocess.run([kubectl, "kustomize", str(K8S / directory)], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    expected = keyed([doc for doc in yaml.safe_load_all(out) if doc])
    actual = keyed(kustomize_render.render(K8S / directory))
    assert sorted(actual) == sorted(expected)
    for key, obj in expected.items():
        assert actual[key] == obj, f"{key} differs from kubectl kustomize"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_generators_patches_images_replicas_and_namespace(tmp_path: Path) -> None:
    write(tmp_path / "base/kustomization.yaml", """
resources: [app.yaml]
configMapGenerator:
  - name: env
    literals: [A=1, B=2]
  - name: files
    files: [conf.txt, renamed.txt=conf.txt]
""")
    write(tmp_path / "base/conf.txt", "hello <world> & co\n")
    write(tmp_path / "base/app.yaml", """
apiVersion: apps/v1
kind: Deployment
metadata: {name: app, labels: {tier: web}}
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: main
          image: repo/app:1
          envFrom: [{configMapRef: {name: env}}]
          env: [{name: X, value: "1"}]
      volumes:
        - {name: files, configMap: {name: files}}
""")
    write(tmp_path / "overlay/kustomization.yaml", """
namespace: ns
resources: [../base]
configMapGenerator:
  - {name: env, behavior: merge, literals: [B=3]}
replicas: [{name: app, count: 4}]
images: [{name: repo/app, newName: registry/app, newTag: "2"}]
patches:
  - target: {kind: Deployment, labelSelector: tier=web}
    patch: |
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: ignored}
      spec:
        template:
          spec:
            containers:
              - name: main
                env: [{name: Y, value: "2"}]
""")
    out = keyed(kustomize_render.render(tmp_path / "overlay"))
    env_name = f"env-{kustomize_render.config_map_hash({'A': '1', 'B': '3'})}"
    files_data = {"conf.txt": "hello <world> & co\n", "renamed.txt": "hello <world> & co\n"}
    files_name = f"files-{kustomize_render.config_map_hash(files_data)}"
    assert out[("ConfigMap", env_name)]["data"] == {"A": "1", "B": "3"}
    assert out[("ConfigMap", files_name)]["data"] == files_data
    app = out[("Deployment", "app")]
    assert app["metadata"]["namespace"] == "ns"
    assert app["spec"]["replicas"] == 4
    container = app["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry/app:2"
    assert container["env"] == [{"name": "Y", "value": "2"}, {"name": "X", "value": "1"}]  # kustomize's order
    assert container["envFrom"] == [{"configMapRef": {"name": env_name}}]
    assert app["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"] == files_name
    if shutil.which("kubectl"):
        kubectl = subprocess.run(["kubectl", "kustomize", str(tmp_path / "overlay")], capture_output=True,
                                 text=True, timeout=60, check=True).stdout
        assert keyed([d for d in yaml.safe_load_all(kubectl) if d]) == out


@pytest.mark.parametrize("kustomization", [
    "resources: []\nnamePrefix: x-\n",
    "resources: []\npatches:\n  - patch: '[{op: remove, path: /spec}]'\n    target: {kind: Deployment}\n",
    "resources: []\nconfigMapGenerator:\n  - {name: a, literals: [A=1], options: {disableNameSuffixHash: true}}\n",
])
def test_refuses_what_it_does_not_support(tmp_path: Path, kustomization: str) -> None:
    write(tmp_path / "kustomization.yaml", kustomization)
    with pytest.raises(kustomize_render.KustomizeError):
        kustomize_render.render(tmp_path)
