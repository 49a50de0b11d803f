"""Sensor health alerts from stored readings: one probe silent on a working device, or stuck."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerting.sensors import SensorOptions, SensorWatch
from edge.protocol import DeviceTopic, Reading, SensorKind
from storage.alert_types import AlertKind, AlertState
from storage.alerts import AlertStore
from storage.sqlite.store import SqliteStore

T0 = 1_780_000_000_000
MIN = 60_000
HOUR = 60 * MIN
AIR, RH, RAIN = SensorKind.AIR_TEMPERATURE, SensorKind.RELATIVE_HUMIDITY, SensorKind.RAINFALL


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "s.sqlite3")


def _write(
    store: SqliteStore,
    sensor: str,
    kind: SensorKind,
    values: list[float],
    *,
    device: str = "pi",
    every_ms: int = 10 * MIN,
    start_ms: int = T0,
) -> None:
    readings = [Reading(sensor, kind, start_ms + i * every_ms, v) for i, v in enumerate(values)]
    assert store.write_readings(DeviceTopic("alpha", "orchard", device), readings) == []


def _varying(n: int) -> list[float]:
    return [10 + 0.1 * (i % 7) for i in range(n)]


def test_a_silent_probe_on_a_reporting_device_raises_one_alert(store: SqliteStore) -> None:
    """The humidity probe stops at hour 1 while the thermometer goes on: one alert, stamped an
    hour after the probe's last reading; a device silent as a whole is device health's."""
    _write(store, "t", AIR, _varying(18))  # 3 h of readings
    _write(store, "rh", RH, [60.0 + i for i in range(7)])  # stops at T0 + 1 h
    _write(store, "t", AIR, _varying(7), device="dead")  # the whole device stopped at 1 h
    _write(store, "rh", RH, [60.0 + i for i in range(7)], device="dead")
    clock = Clock(T0 + 170 * MIN)
    alerts = AlertStore(store)
    watch = SensorWatch(store, alerts, options=SensorOptions(silent_after_ms=HOUR), clock=clock)
    first = watch.run_once()
    assert [(a.device, a.sensor, a.kind, a.ts_ms) for a in first] == [
        ("pi", "rh", AlertKind.SENSOR_SILENT, T0 + 60 * MIN + HOUR)
    ]
    clock.ms += 30 * MIN
    _write(store, "t", AIR, _varying(3), start_ms=T0 + 180 * MIN)
    assert watch.run_once() == first  # the same alert again, not another
    (stored,) = alerts.list_alerts("alpha", AlertState.OPEN)
    assert "rh" in stored.alert.reason
    assert "配線" in stored.alert.reason_ja


def test_a_stuck_thermometer_is_one_alert_from_the_start_of_its_run(store: SqliteStore) -> None:
    """Varying for 2 h, then exactly 12.3 °C for 7 h: one alert stamped when the run had
    lasted 6 h; a later pass with the run still going writes the same alert, seen later."""
    run_start = T0 + 2 * HOUR
    _write(store, "t", AIR, _varying(12))
    _write(store, "t", AIR, [12.3] * 43, start_ms=run_start)  # 7 h at 10 min
    clock = Clock(run_start + 7 * HOUR + MIN)
    watch = SensorWatch(store, AlertStore(store), clock=clock)
    (alert,) = watch.run_once()
    assert (alert.kind, alert.sensor, alert.ts_ms) == (
        AlertKind.SENSOR_STUCK,
        "t",
        run_start + 6 * HOUR,
    )
    assert alert.last_seen_ms == run_start + 42 * 10 * MIN
    assert "12.3" in alert.reason and "12.3" in alert.reason_ja
    _write(store, "t", AIR, [12.3] * 3, start_ms=run_start + 43 * 10 * MIN)
    clock.ms += 30 * MIN
    (again,) = watch.run_once()
    assert (again.id, again.last_seen_ms) == (alert.id, run_start + 45 * 10 * MIN)


def test_values_that_legitimately_hold_are_not_stuck(store: SqliteStore) -> None:
    """No rain for a day, fog at 100 % humidity for 8 h, a thermometer steady for only 5 h,
    and too few readings to judge: none is a stuck sensor."""
    _write(store, "rain", RAIN, [0.0] * 145)
    _write(store, "rh", RH, [100.0] * 49, start_ms=T0 + 16 * HOUR)
    _write(store, "t", AIR, [8.0] * 31, start_ms=T0 + 19 * HOUR)  # 5 h
    _write(store, "t", AIR, [8.0] * 3, device="sparse", every_ms=3 * HOUR, start_ms=T0 + 18 * HOUR)
    watch = SensorWatch(store, AlertStore(store), clock=Clock(T0 + 24 * HOUR + MIN))
    assert [a for a in watch.run_once() if a.kind is AlertKind.SENSOR_STUCK] == []
