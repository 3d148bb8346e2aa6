"""Alert rules and the Grafana dashboard query only metrics the code exports, and link to the runbook."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]
OBSERVABILITY = ROOT / "deploy" / "observability"
METRIC = re.compile(r"\bhookmesh_[a-z_]+\b")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def exported_metrics() -> set[str]:
    """Every metric family name the services register (string literals passed to prometheus-client)."""
    names: set[str] = set()
    for path in [*ROOT.glob("shared/**/*.py"), *ROOT.glob("services/**/*.py")]:
        names.update(re.findall(r'(?:Counter|Gauge|Histogram|GaugeMetricFamily)\(\s*"(hookmesh_[a-z_]+)"',
                                path.read_text()))
    return names


def used_metrics(expr: str) -> set[str]:
    out = set()
    for name in METRIC.findall(expr):
        for suffix in HISTOGRAM_SUFFIXES:
            if name.endswith(suffix):
                name = name[: -len(suffix)]
        out.add(name)
    return out


def test_the_code_exports_what_operators_need() -> None:
    names = exported_metrics()
    assert {"hookmesh_ingress_requests_total", "hookmesh_consumer_pending", "hookmesh_delivery_attempts_total",
            "hookmesh_dead_letters", "hookmesh_destination_breaker_state", "hookmesh_nats_connected"} <= names


def test_alert_rules_use_exported_metrics_and_link_the_runbook() -> None:
    rules = yaml.safe_load((OBSERVABILITY / "alerts.yaml").read_text())
    runbook = (ROOT / "docs" / "operations.md").read_text()
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).strip().replace(" ", "-")
               for h in re.findall(r"^#+ (.+)$", runbook, re.MULTILINE)}
    exported = exported_metrics()
    alerts = [r for group in rules["groups"] for r in group["rules"]]
    assert {a["alert"] for a in alerts} >= {"HookmeshBacklogGrowing", "HookmeshBreakerOpen",
                                             "HookmeshDeadLettersGrowing", "HookmeshDeliverySuccessLow"}
    for alert in alerts:
        assert used_metrics(alert["expr"]) <= exported, alert["alert"]
        assert alert["labels"]["severity"] in ("warning", "critical")
        url = alert["annotations"]["runbook_url"]
        assert url.startswith("docs/operations.md#") and url.split("#")[1] in anchors, url


def test_dashboard_panels_use_exported_metrics() -> None:
    dashboard = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())
    exported = exported_metrics()
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 10
    for expr in exprs:
        assert used_metrics(expr) and used_metrics(expr) <= exported, expr
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
