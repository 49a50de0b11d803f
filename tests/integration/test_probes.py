"""Ingest and alerts answer /healthz and /readyz, and write JSON logs that parse line by line."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
from support import AlertsFactory, IngestFactory, Services, wait_until

from edge.mqtt import MqttEndpoint, Publisher, close_client, connect, make_client
from edge.protocol import Channel, DeviceTopic, Reading, SensorKind, encode_batch

pytestmark = pytest.mark.integration


def _publish(broker_url: str, topic: str, payload: bytes) -> None:
    """Publish one message (QoS 1) as the test's own account and wait for its PUBACK."""
    endpoint = MqttEndpoint.from_url(broker_url)
    client = make_client(endpoint, f"probe-{uuid.uuid4().hex[:8]}")
    publisher = Publisher(client)
    connect(client, endpoint)
    publisher.publish(topic, payload)
    assert publisher.flush(10)
    close_client(client)


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


def test_ingest_counts_arrival_to_stored_and_devices_spool_drops(
    services: Services, database: str, ingest_factory: IngestFactory
) -> None:
    """A stored batch is observed in the latency histogram; a device whose status total of
    dropped readings grows from 5 to 12 adds 7 to its tenant's counter."""
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    ingest = ingest_factory(services, database)
    device = DeviceTopic(tenant, "field", "pi-drops")
    now = int(time.time() * 1000)
    batch = encode_batch(
        device.device, 0, now, [Reading("air", SensorKind.AIR_TEMPERATURE, now - 1000, 3.5)]
    )
    _publish(services.url, device.topic(Channel.UP), batch)
    for dropped in (5, 12):
        doc = {"v": 1, "device": device.device, "state": "online", "spool": {"dropped": dropped}}
        _publish(services.url, device.topic(Channel.STATUS), json.dumps(doc).encode())
        time.sleep(0.3)
    key = f'shinshu_ingest_device_spool_dropped_readings_total{{tenant="{tenant}"}}'
    wait_until(lambda: ingest.metrics().get(key) == 7.0, 20, "the drops to be counted")
    assert ingest.metrics()["shinshu_ingest_receive_to_stored_seconds_count"] >= 1
