"""Device health alerts from stored statuses: a last will, silence, a spool dropping readings."""

from __future__ import annotations

from pathlib import Path

from alerting.health import DEVICE_SENSOR, DeviceHealth, HealthOptions
from edge.protocol import DeviceTopic
from edge.status import AgentState, StatusReport
from storage.alert_types import AlertKind, AlertState
from storage.alerts import AlertStore
from storage.points import status_point
from storage.sqlite.store import SqliteStore

T0 = 1_780_000_000_000
MIN = 60_000


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


def _status(
    store: SqliteStore, device: str, at_ms: int, state: AgentState, dropped: int | None = 0
) -> None:
    report = StatusReport(device, state, spool_readings=10, spool_dropped=dropped)
    assert (
        store.write_points([status_point(DeviceTopic("alpha", "farm", device), report, at_ms)])
        == []
    )


def test_a_last_will_and_silence_raise_one_offline_alert_each(tmp_path: Path) -> None:
    """Offline by last will at its time; online but silent past the limit at limit's end;
    healthy: nothing. Passes repeat the same alerts, never new ones."""
    store = SqliteStore(tmp_path / "s.sqlite3")
    clock = Clock(T0 + 30 * MIN)
    alerts = AlertStore(store)
    health = DeviceHealth(
        store, alerts, options=HealthOptions(silent_after_ms=15 * MIN), clock=clock
    )
    _status(store, "killed", T0, AgentState.ONLINE)
    _status(store, "killed", T0 + MIN, AgentState.OFFLINE, dropped=None)
    _status(store, "silent", T0, AgentState.ONLINE)
    _status(store, "fine", T0 + 29 * MIN, AgentState.ONLINE)
    first = health.run_once()
    assert {(a.device, a.kind, a.ts_ms, a.sensor) for a in first} == {
        ("killed", AlertKind.OFFLINE, T0 + MIN, DEVICE_SENSOR),
        ("silent", AlertKind.OFFLINE, T0 + 15 * MIN, DEVICE_SENSOR),
    }
    clock.ms += 5 * MIN
    assert health.run_once() == first
    stored = alerts.list_alerts("alpha", AlertState.OPEN)
    assert sorted(v.alert.device for v in stored) == ["killed", "silent"]
    killed = next(v.alert for v in stored if v.alert.device == "killed")
    assert "last will" in killed.reason
    assert "ラストウィル" in killed.reason_ja  # stored and read back in both languages


def test_a_spool_that_starts_dropping_raises_one_alert_a_day(tmp_path: Path) -> None:
    """The dropped count rising twice in a day: one alert, at the first rise, with the total."""
    store = SqliteStore(tmp_path / "s.sqlite3")
    clock = Clock(T0 + 45 * MIN)
    health = DeviceHealth(store, AlertStore(store), clock=clock)
    for i, dropped in enumerate((0, 0, 40, 40, 90)):
        _status(store, "pi", T0 + i * 10 * MIN, AgentState.ONLINE, dropped=dropped)
    (alert,) = health.run_once()
    assert (alert.kind, alert.ts_ms) == (AlertKind.SPOOL_DROPPING, T0 + 20 * MIN)
    assert "dropped 90 readings" in alert.reason
