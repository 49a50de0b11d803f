"""Ingest and alerts answer /healthz and /readyz, and write JSON logs that parse line by line."""

from __future__ import annotations

import json

import httpx
import pytest
from support import AlertsFactory, IngestFactory, Services

pytestmark = pytest.mark.integration


def _probe(port: int, path: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5)


def test_ingest_and_alerts_are_ready_and_log_json_without_secrets(
    services: Services,
    database: str,
    ingest_factory: IngestFactory,
    alerts_factory: AlertsFactory,
) -> None:
    """Both services: /healthz ok, /readyz ready once subscribed; every log line is a JSON
    object naming the service, and neither the broker password nor the file's path leaks it."""
    ingest = ingest_factory(services, database, log_format="json")
    alerts = alerts_factory(services, database, log_format="json")
    for service, name in ((ingest, "ingest"), (alerts, "alerts")):
        assert _probe(service.metrics_port, "/healthz").json() == {"status": "ok"}
        ready = _probe(service.metrics_port, "/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json() == {"status": "ready"}
        service.stop()
        text = service.log.read_text()
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
        assert records, f"{name} logged nothing"
        assert {r["service"] for r in records} == {name}
        assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
        secret_file = service.env["SHINSHU_MQTT_PASSWORD_FILE"]
        with open(secret_file, encoding="utf-8") as handle:
            secret = handle.read().strip()
        assert secret and secret not in text
