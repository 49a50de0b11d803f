"""End to end: live factory readings -> Mosquitto -> `shinshu alerts` -> InfluxDB -> the API.

Real processes (`shinshu ingest`, `shinshu alerts`), a real broker and database. Four days of
history go into the store first (as a backfill does); then a day of live readings is published
as the gateway would, one batch per sampling instant, with a theft injected into one bin.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from support import AlertsFactory, IngestFactory, Services, make_influx, wait_until

from core.settings import Settings, load_api_settings
from dashboard.app import create_app
from dashboard.keys import Role
from edge.mqtt import Publisher, close_client, connect, make_client
from edge.protocol import Channel, DeviceTopic, Reading, SensorKind, encode_batch
from simulators.factory import DEFAULT_FACTORIES, simulate_factory
from storage.alert_types import AlertKind, AlertState
from storage.alerts import AlertStore
from storage.assets import BinAsset, write_assets
from storage.influx.client import InfluxStore
from storage.influx.lineprotocol import series_lines

pytestmark = pytest.mark.integration

STEP_MS = 600_000
HISTORY_STEPS = 4 * 144
LIVE_STEPS = 144
DROP_AT = 30  # live step of the theft
TENANT = "shinshu-test"
SPEC = DEFAULT_FACTORIES[0]
TOPIC = DeviceTopic(TENANT, SPEC.site, "stock-gateway")


@dataclass
class Factory:
    """A simulated factory: times and clean readings per bin, with one theft injected."""

    ts: list[int]
    readings: dict[str, tuple[list[float], list[float]]]
    theft_bin: str
    theft_ts: int


def last_wednesday_noon(now_ms: int) -> int:
    """The latest Wednesday 12:00 JST before `now_ms`.

    The live day (Tuesday noon to Wednesday noon) then always falls in the working week, and the
    test sees the same kind of day whenever it runs (checked over a year of such weeks).
    """
    jst = 9 * 3_600_000
    day = (now_ms + jst) // 86_400_000
    monday_based = (day + 3) % 7  # 1970-01-01 was a Thursday
    noon = (day - (monday_based - 2) % 7) * 86_400_000 - jst + 12 * 3_600_000
    return noon if noon <= now_ms else noon - 7 * 86_400_000


def simulate(now_ms: int) -> Factory:
    """Five days of the factory up to `now_ms`; consumption, shifts and deliveries as simulated.

    Weight and count come from the true stock (the simulator's own injected faults left out),
    so the one theft added here is the only anomaly there is to find.
    """
    n = HISTORY_STEPS + LIVE_STEPS
    start = now_ms - n * STEP_MS
    sim = simulate_factory(SPEC, start, n * STEP_MS, STEP_MS, 3)
    rng = np.random.default_rng(8)
    ts = (start + STEP_MS * np.arange(n)).tolist()
    drop = HISTORY_STEPS + DROP_AT
    # Steal from the bin with the most stock to spare after the theft.
    chosen = max(SPEC.bins, key=lambda b: int(sim.stock[b.name][drop:].min()) / b.capacity)
    readings = {}
    for b in SPEC.bins:
        physical = sim.stock[b.name].astype(float)
        noise = (0.0002 * b.capacity * b.unit_kg + 0.02) * rng.standard_normal(n)
        weight = physical * b.unit_kg + noise
        if b is chosen:
            weight[drop:] -= 0.5 * physical[drop:].min() * b.unit_kg
        readings[b.name] = (np.maximum(weight, 0.0).round(3).tolist(), physical.tolist())
    return Factory(ts, readings, chosen.name, ts[drop])


def write_history(store: InfluxStore, factory: Factory) -> None:
    """The first four days straight into the store, as `simulate --backfill` writes them."""
    lines: list[str] = []
    past = factory.ts[:HISTORY_STEPS]
    for name, (weight, count) in factory.readings.items():
        lines += series_lines(
            TOPIC, f"{name}_weight", SensorKind.BIN_WEIGHT, past, weight[:HISTORY_STEPS]
        )
        lines += series_lines(
            TOPIC, f"{name}_count", SensorKind.ITEM_COUNT, past, count[:HISTORY_STEPS]
        )
    assert store.write_lines(lines) == []
    bins = [
        BinAsset(
            SPEC.site,
            b.name,
            TOPIC.device,
            b.name,
            b.unit_kg,
            b.capacity,
            f"{b.name}_weight",
            f"{b.name}_count",
            b.lead_time_h,
        )
        for b in SPEC.bins
    ]
    write_assets(store, TENANT, bins)


def publish(services: Services, factory: Factory, steps: range) -> dict[int, float]:
    """Publish live steps as the gateway does (a batch per instant); returns when each went."""
    endpoint = services.endpoint()
    client = make_client(endpoint, f"gateway-{uuid.uuid4().hex[:6]}")
    publisher = Publisher(client, window=50)
    connect(client, endpoint)
    sent: dict[int, float] = {}
    try:
        for step in steps:
            i = HISTORY_STEPS + step
            ts = factory.ts[i]
            readings = []
            for name, (weight, count) in factory.readings.items():
                readings.append(Reading(f"{name}_weight", SensorKind.BIN_WEIGHT, ts, weight[i]))
                readings.append(Reading(f"{name}_count", SensorKind.ITEM_COUNT, ts, count[i]))
            payload = encode_batch(TOPIC.device, i, int(time.time() * 1000), readings)
            publisher.publish(TOPIC.topic(Channel.UP), payload)
            sent[ts] = time.monotonic()
        assert publisher.flush(30), "the broker did not acknowledge every batch"
    finally:
        close_client(client)
    return sent


def stored_alerts(store: InfluxStore) -> list[tuple[str, AlertKind, int]]:
    """(sensor, kind, raised ms) of every stored alert of the tenant."""
    views = AlertStore(store).list_alerts(TENANT, AlertState.ALL, limit=1000)
    return sorted((v.alert.sensor, v.alert.kind, v.alert.ts_ms) for v in views)


def test_live_theft_is_alerted_listed_acknowledged_and_not_repeated_after_kill(
    services: Services,
    database: str,
    ingest_factory: IngestFactory,
    alerts_factory: AlertsFactory,
    tmp_path: Path,
) -> None:
    """Alert within seconds, through the API; a killed and restarted service adds no duplicate."""
    factory = simulate(last_wednesday_noon(int(time.time() * 1000)))
    store = make_influx(services.influx, database)
    store.ensure_database()
    write_history(store, factory)
    ingest = ingest_factory(services, database)
    alerts = alerts_factory(services, database, alerts_client_id=f"alerts-{database}")

    # Live: the theft and 30 more instants.
    sent = publish(services, factory, range(0, DROP_AT + 30))
    theft_sensor = f"{factory.theft_bin}_weight"
    wait_until(lambda: bool(stored_alerts(store)), 30, "the theft's alert")
    seen = time.monotonic()
    ((sensor, kind, raised),) = stored_alerts(store)
    assert (sensor, kind) == (theft_sensor, AlertKind.DROP)
    # Raised by a reading within the hour after the theft (the detector wants it to persist).
    assert factory.theft_ts < raised <= factory.theft_ts + 3_600_000
    print(f"alert stored {seen - sent[raised]:.2f} s after its reading was published")

    # The API lists it; a viewer may not acknowledge it, an operator may.
    api_settings = load_api_settings(
        Settings(influx_url=services.influx.url, influx_db=database, data_dir=tmp_path),
        env={"SHINSHU_API_RATE_PER_S": "1000", "SHINSHU_API_RATE_BURST": "1000"},
    )
    app = create_app(api_settings)
    keys = app.state.context.keys
    operator_key, operator = keys.create(TENANT, Role.OPERATOR)
    viewer = {"X-API-Key": keys.create(TENANT, Role.VIEWER)[1]}
    operator_headers = {"X-API-Key": operator}
    base = f"/api/v1/tenants/{TENANT}/alerts"
    with TestClient(app) as client:
        (listed,) = client.get(base, headers=viewer).json()
        assert listed["kind"] == "drop" and listed["sensor"] == theft_sensor
        assert listed["acknowledged_at"] is None and 0 < listed["score"] <= 1
        ack = f"{base}/{listed['id']}/acknowledge"
        assert client.post(ack, headers=viewer).status_code == 403
        done = client.post(ack, headers=operator_headers)
        assert done.status_code == 200, done.text
        assert done.json()["acknowledged_by"] == operator_key.id

    # Everything so far dealt with; then kill -9, and the gateway resends from before the theft
    # (as after a spool replay), so the restarted service sees the theft again live.
    wait_until(
        lambda: alerts.metrics().get("shinshu_alerts_messages_total") == DROP_AT + 30,
        30,
        "the alerts service to acknowledge every message",
    )
    # Readings, not messages: a new ingest session also receives statuses other tests retained.
    per_message = 2 * len(factory.readings)
    wait_until(
        lambda: (
            ingest.metrics().get("shinshu_ingest_readings_stored_total")
            == (DROP_AT + 30) * per_message
        ),
        30,
        "ingest to store every message",
    )
    alerts.kill()
    restarted = alerts_factory(services, database, alerts_client_id=f"alerts-{database}")
    publish(services, factory, range(DROP_AT - 10, LIVE_STEPS))
    total = LIVE_STEPS - (DROP_AT - 10)
    wait_until(
        lambda: restarted.metrics().get("shinshu_alerts_messages_total") == total,
        60,
        "the restarted service to deal with every message",
    )
    metrics = restarted.metrics()
    assert metrics['shinshu_alerts_folded_total{kind="drop"}'] >= 1  # seen again, folded
    assert metrics['shinshu_alerts_raised_total{kind="drop"}'] == 0
    assert metrics['shinshu_alerts_skipped_total{reason="bad_message"}'] == 0
    assert stored_alerts(store) == [(theft_sensor, AlertKind.DROP, raised)]
    with TestClient(app) as client:
        assert client.get(base, headers=viewer).json() == []
        (still,) = client.get(base, params={"state": "acknowledged"}, headers=viewer).json()
        assert still["id"] == listed["id"] and still["acknowledged_by"] == operator_key.id
