"""Threshold rules on stored readings: duration, hysteresis, one alert per episode."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from alerting.thresholds import ThresholdWatch, episodes
from edge.protocol import DeviceTopic, Reading, SensorKind
from storage.alert_types import AlertKind
from storage.alerts import AlertStore
from storage.rules import Comparison, ThresholdRule, read_rules, write_rule
from storage.sqlite.store import SqliteStore

T0 = 1_780_000_000_000
HOUR = 3_600_000
SOIL = SensorKind.SOIL_MOISTURE
DRY = ThresholdRule("r1", "乾燥", SOIL, Comparison.BELOW, 20.0, 360.0, hysteresis=2.0, site="farm")


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


def _write(
    store: SqliteStore, values: list[float], *, device: str = "pi", every_ms: int = HOUR
) -> None:
    readings = [Reading("soil", SOIL, T0 + i * every_ms, v) for i, v in enumerate(values)]
    assert store.write_readings(DeviceTopic("alpha", "farm", device), readings) == []


def test_dry_for_six_hours_is_one_alert_from_its_start(tmp_path: Path) -> None:
    """Below 20 % from hour 2, hovering within the hysteresis at hour 5: one episode of 8 h."""
    store = SqliteStore(tmp_path / "s.sqlite3")
    write_rule(store, "alpha", DRY, by="key-op", change="create", now_ms=T0)
    _write(store, [30, 25, 19, 18, 17, 21, 19, 18, 17, 16, 15, 30, 30])
    _write(store, [19, 19, 19, 30, 19, 19], device="short")  # episodes of 2 h: no alert
    clock = Clock(T0 + 12 * HOUR + 1)
    alerts = AlertStore(store)
    watch = ThresholdWatch(store, alerts, clock=clock)
    (alert,) = watch.run_once()
    assert (alert.kind, alert.device, alert.ts_ms, alert.last_seen_ms) == (
        AlertKind.THRESHOLD,
        "pi",
        T0 + 8 * HOUR,  # the episode's start + the rule's 6 h
        T0 + 10 * HOUR,
    )
    assert "worst 15" in alert.reason
    clock.ms += HOUR
    assert watch.run_once() == [alert]


def test_an_episode_older_than_the_window_keeps_its_start(tmp_path: Path) -> None:
    """Dry for two days: a pass late in it finds the same start as a pass early in it."""
    store = SqliteStore(tmp_path / "s.sqlite3")
    write_rule(store, "alpha", DRY, by="key-op", now_ms=T0)
    _write(store, [30] + [10] * 48)
    early = ThresholdWatch(store, AlertStore(store), clock=Clock(T0 + 8 * HOUR)).run_once()
    late = ThresholdWatch(store, AlertStore(store), clock=Clock(T0 + 48 * HOUR)).run_once()
    assert [a.ts_ms for a in early] == [a.ts_ms for a in late] == [T0 + 7 * HOUR]


def test_rules_are_versioned_and_deleted(tmp_path: Path) -> None:
    """The newest version is in force; a deleted rule raises nothing."""
    store = SqliteStore(tmp_path / "s.sqlite3")
    write_rule(store, "alpha", DRY, by="a", change="create", now_ms=T0)
    wetter = ThresholdRule("r1", "乾燥", SOIL, Comparison.BELOW, 25.0, 60.0, site="farm")
    write_rule(store, "alpha", wetter, by="b", now_ms=T0 + 1)
    assert read_rules(store) == {"alpha": [wetter]}
    write_rule(store, "alpha", wetter, by="b", change="delete", now_ms=T0 + 2)
    assert read_rules(store) == {}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 40, allow_nan=False), max_size=40))
def test_episodes_never_overlap_and_hold_the_rule(values: list[float]) -> None:
    """Every episode starts with a breach, ends before a clearing value, and they are ordered."""
    points = [(i, v) for i, v in enumerate(values)]
    found = episodes(DRY, points)
    ends = -1
    for start, last, worst in found:
        assert start > ends and last >= start
        assert DRY.breached(dict(points)[start])
        inside = [v for t, v in points if start <= t <= last]
        assert not any(DRY.cleared(v) for v in inside)
        assert worst == min(inside)
        ends = last
