"""End to end: a threshold rule raised by `shinshu alerts` from live readings, long before its
periodic rule pass would run (real broker, database and process)."""

from __future__ import annotations

import time
import uuid

import pytest
from support import AlertsFactory, Services, make_influx, wait_until

from edge.mqtt import Publisher, close_client, connect, make_client
from edge.protocol import Channel, DeviceTopic, Reading, SensorKind, encode_batch
from storage.alert_types import Alert, AlertKind, AlertState
from storage.alerts import AlertStore
from storage.rules import Comparison, ThresholdRule, write_rule

pytestmark = pytest.mark.integration

TENANT = "live-rules"
TOPIC = DeviceTopic(TENANT, "orchard-1", "pi-live")
RULE = ThresholdRule("r1", "高温", SensorKind.AIR_TEMPERATURE, Comparison.ABOVE, 30.0, 2.0)


def test_a_rule_is_raised_as_its_reading_arrives(
    services: Services, database: str, alerts_factory: AlertsFactory
) -> None:
    """Hot for three minutes of device time: the alert is stored within seconds, though the
    periodic pass runs only every ten minutes; a cool sensor beside it raises nothing."""
    store = make_influx(services.influx, database)
    store.ensure_database()
    write_rule(store, TENANT, RULE, by="test", change="create")
    alerts_factory(services, database, alerts_health_s="600")
    time.sleep(2)  # the first periodic pass (at start) is over before any reading exists
    endpoint = services.endpoint()
    client = make_client(endpoint, f"gw-{uuid.uuid4().hex[:6]}")
    publisher = Publisher(client, window=10)
    connect(client, endpoint)
    now = int(time.time() * 1000)
    try:
        for i, minutes in enumerate((3, 2, 1, 0)):
            ts = now - minutes * 60_000
            readings = [
                Reading("t", SensorKind.AIR_TEMPERATURE, ts, 32.0 + i),
                Reading("t2", SensorKind.AIR_TEMPERATURE, ts, 20.0),
            ]
            publisher.publish(TOPIC.topic(Channel.UP), encode_batch(TOPIC.device, i, ts, readings))
        assert publisher.flush(30)
        sent = time.monotonic()
    finally:
        close_client(client)

    def raised() -> list[Alert]:
        return [
            v.alert
            for v in AlertStore(store).list_alerts(TENANT, AlertState.ALL)
            if v.alert.kind is AlertKind.THRESHOLD
        ]

    wait_until(lambda: bool(raised()), 60, "the live threshold alert")
    print(f"threshold alert stored {time.monotonic() - sent:.2f} s after the last reading")
    (alert,) = raised()
    assert (alert.sensor, alert.ts_ms) == ("t", now - 3 * 60_000 + 2 * 60_000)
