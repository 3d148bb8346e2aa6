"""deploy/nats/values.yaml for the official NATS Helm chart: a 3-node JetStream cluster that fsyncs."""

from __future__ import annotations

import re

import pytest
from deploy_facts import DEPLOY, load_yaml

from shared.durations import parse_duration

VALUES = DEPLOY / "nats" / "values.yaml"


@pytest.fixture(scope="module")
def values() -> dict:
    return load_yaml(VALUES)


def test_three_node_cluster_with_jetstream_on_persistent_volumes(values: dict) -> None:
    config = values["config"]
    assert config["cluster"]["enabled"] is True
    assert config["cluster"]["replicas"] == 3
    jetstream = config["jetstream"]
    assert jetstream["enabled"] is True
    assert jetstream["fileStore"]["enabled"] is True
    assert jetstream["fileStore"]["pvc"]["enabled"] is True
    assert re.fullmatch(r"\d+[GT]i", jetstream["fileStore"]["pvc"]["size"])
    assert values["config"]["monitor"]["enabled"] is True


def test_sync_interval_is_explicit_and_short(values: dict) -> None:
    sync = values["config"]["jetstream"]["merge"]["sync_interval"]
    assert sync == "always" or parse_duration(sync) <= 5, "never the 2-minute default"
    text = VALUES.read_text(encoding="utf-8")
    assert "Jepsen" in text and "2m" in text, "the comment says why: the 2025 Jepsen analysis of NATS"


def test_servers_spread_over_nodes(values: dict) -> None:
    spread = values["podTemplate"]["topologySpreadConstraints"]
    assert spread["kubernetes.io/hostname"]["whenUnsatisfiable"] == "DoNotSchedule"
