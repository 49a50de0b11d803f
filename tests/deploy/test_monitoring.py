"""The Prometheus rules and the Grafana dashboard in deploy/ use only metrics the services
expose, the rules pass promtool's checks, and they fire as their unit tests say."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from alerting.metrics import AlertMetrics
from dashboard.metrics import ApiMetrics
from ingest.metrics import IngestMetrics
from notify.outbox import Outbox
from notify.service import NotifyMetrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "shinshu-rules.yml"
DASHBOARD = DEPLOY / "grafana" / "shinshu-dashboard.json"
_NAME = re.compile(r"\bshinshu_[a-z0-9_]+")


def _exposed(tmp_path: Path) -> set[str]:
    """Every sample name the four services' registries expose."""
    registries = [
        IngestMetrics().registry,
        AlertMetrics().registry,
        ApiMetrics().registry,
        NotifyMetrics(Outbox(tmp_path / "outbox.sqlite3")).registry,
    ]
    names = set()
    for registry in registries:
        for family in registry.collect():
            names.add(family.name)
            names.update(sample.name for sample in family.samples)
            # A labelled metric has samples only once a label is used: its names are known.
            if family.type == "histogram":
                names.update(f"{family.name}_{s}" for s in ("bucket", "count", "sum"))
            if family.type == "counter":
                names.add(f"{family.name}_total")
    return names


def _rule_expressions() -> list[str]:
    document = yaml.safe_load(RULES.read_text())
    return [rule["expr"] for group in document["groups"] for rule in group["rules"]]


def _dashboard_expressions() -> list[str]:
    document = json.loads(DASHBOARD.read_text())
    return [t["expr"] for panel in document["panels"] for t in panel["targets"]]


def test_every_metric_named_is_one_the_services_expose(tmp_path: Path) -> None:
    """No rule or panel watches a metric nobody serves (it would stay silent forever)."""
    exposed = _exposed(tmp_path)
    for expression in _rule_expressions() + _dashboard_expressions():
        missing = set(_NAME.findall(expression)) - exposed
        assert not missing, (expression, missing)


def test_the_rules_cover_what_operators_must_see() -> None:
    """Ingest lag, dead letters by reason, sequence gaps, store errors, device spool drops."""
    text = "\n".join(_rule_expressions())
    for metric in (
        "shinshu_ingest_receive_to_stored_seconds_bucket",
        "shinshu_ingest_readings_dead_lettered_total",
        "shinshu_ingest_sequence_gaps_total",
        "shinshu_ingest_store_retries_total",
        "shinshu_ingest_device_spool_dropped_readings_total",
    ):
        assert metric in text, metric
    assert "by (reason)" in text


def test_promtool_checks_and_unit_tests_the_rules() -> None:
    """`promtool check rules` and `promtool test rules` (deploy/prometheus/*.test.yml) pass."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian package prometheus) is installed by scripts/setup.sh"
    folder = RULES.parent
    for args in (["check", "rules", RULES.name], ["test", "rules", "shinshu-rules.test.yml"]):
        done = subprocess.run(
            [promtool, *args], cwd=folder, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "SUCCESS" in done.stdout
