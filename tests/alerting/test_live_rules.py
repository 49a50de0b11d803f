"""Threshold rules on readings as they arrive: the same alert the periodic pass writes, once."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerting.live_rules import LiveRules
from alerting.thresholds import ThresholdWatch
from edge.protocol import DeviceTopic, Reading, SensorKind
from storage.alerts import AlertStore
from storage.rules import Comparison, ThresholdRule, write_rule
from storage.sqlite.store import SqliteStore

T0 = 1_780_000_000_000
MIN = 60_000
AIR = SensorKind.AIR_TEMPERATURE
HOT = ThresholdRule("r1", "高温", AIR, Comparison.ABOVE, 30.0, 30.0, hysteresis=1.0, site="orchard")
TOPIC = DeviceTopic("alpha", "orchard", "pi")


class Clock:
    def __init__(self) -> None:
        self.s = 0.0

    def __call__(self) -> float:
        return self.s


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    s = SqliteStore(tmp_path / "s.sqlite3")
    write_rule(s, "alpha", HOT, by="key-op", change="create", now_ms=T0)
    return s


def _readings(values: list[float], *, start_ms: int, every_ms: int = 5 * MIN) -> list[Reading]:
    return [Reading("t", AIR, start_ms + i * every_ms, v) for i, v in enumerate(values)]


def test_an_episode_raises_when_its_duration_is_reached_as_the_pass_would(
    store: SqliteStore,
) -> None:
    """Stored: cool, then hot from 10 min; live: hot on. The reading at 40 min (30 min after
    the start) raises the alert, once; the periodic pass over the same readings writes the same
    alert."""
    stored = _readings([25, 26, 31, 32], start_ms=T0)  # 0..15 min, hot from 10 min
    assert store.write_readings(TOPIC, stored) == []
    rules = LiveRules(store, AlertStore(store))
    live = _readings([33, 34, 35, 36, 37], start_ms=T0 + 20 * MIN)  # 20..40 min
    raised = [a for r in live for a in rules.offer(TOPIC, [r])]
    assert [a.ts_ms for a in raised] == [T0 + 10 * MIN + 30 * MIN]
    assert rules.offer(TOPIC, _readings([38], start_ms=T0 + 45 * MIN)) == []  # same episode
    assert store.write_readings(TOPIC, live) == []
    watch = ThresholdWatch(store, AlertStore(store), clock=lambda: (T0 + 41 * MIN) / 1000)
    (periodic,) = watch.run_once()
    assert periodic.id == raised[0].id
    assert "above 30" in raised[0].reason
    assert raised[0].reason_ja


def test_a_cleared_episode_then_a_new_one_raises_again(store: SqliteStore) -> None:
    """Hot 30 min, back below 29 (the hysteresis), hot 30 min again: two alerts."""
    rules = LiveRules(store, AlertStore(store))
    values = [31] * 7 + [28] + [31] * 7
    raised = [a for r in _readings(values, start_ms=T0) for a in rules.offer(TOPIC, [r])]
    assert [a.ts_ms for a in raised] == [T0 + 30 * MIN, T0 + 40 * MIN + 30 * MIN]


def test_what_it_cannot_judge_is_left_to_the_periodic_pass(store: SqliteStore) -> None:
    """An episode hot since before the warm-up window (its start unknown), late readings,
    another site and another tenant raise nothing live."""
    old = _readings([31] * 40, start_ms=T0 - 180 * MIN)  # hot for 3 h 15 min before T0
    assert store.write_readings(TOPIC, old) == []
    rules = LiveRules(store, AlertStore(store))
    assert rules.offer(TOPIC, _readings([32, 33], start_ms=T0 + 20 * MIN)) == []
    assert rules.offer(TOPIC, _readings([40], start_ms=T0 - 10 * MIN)) == []  # late
    elsewhere = DeviceTopic("alpha", "field-2", "pi")
    beta = DeviceTopic("beta", "orchard", "pi")
    for topic in (elsewhere, beta):
        assert [a for r in _readings([31] * 10, start_ms=T0) for a in rules.offer(topic, [r])] == []


def test_a_changed_rule_starts_its_trackers_afresh(store: SqliteStore) -> None:
    """After the refresh, the new threshold is the one applied."""
    clock = Clock()
    rules = LiveRules(store, AlertStore(store), refresh_s=10.0, monotonic=clock)
    assert rules.offer(TOPIC, _readings([28] * 3, start_ms=T0)) == []
    assert rules.tracked == 1
    cooler = ThresholdRule("r1", "高温", AIR, Comparison.ABOVE, 27.0, 10.0, site="orchard")
    write_rule(store, "alpha", cooler, by="key-op", now_ms=T0 + 1)
    clock.s = 11.0
    raised = [
        a for r in _readings([28] * 3, start_ms=T0 + 15 * MIN) for a in rules.offer(TOPIC, [r])
    ]
    assert [a.ts_ms for a in raised] == [T0 + 15 * MIN + 10 * MIN]


def test_trackers_are_capped_and_a_dropped_one_is_warmed_again(store: SqliteStore) -> None:
    """With room for two trackers, a third sensor drops the least recently fed; the dropped
    sensor's episode is judged from the store again and still raises once, at its duration."""
    rules = LiveRules(store, AlertStore(store), max_tracked=2)
    first = _readings([25, 31, 31, 31], start_ms=T0)  # 0..15 min, hot from 5 min
    for reading in first:
        assert rules.offer(TOPIC, [reading]) == []
        assert store.write_readings(TOPIC, [reading]) == []
    for sensor in ("u", "v"):
        assert rules.offer(TOPIC, [Reading(sensor, AIR, T0, 20.0)]) == []
    assert rules.tracked == 2
    raised = [
        a for r in _readings([32] * 5, start_ms=T0 + 20 * MIN) for a in rules.offer(TOPIC, [r])
    ]
    assert [(a.ts_ms, a.sensor) for a in raised] == [(T0 + 35 * MIN, "t")]
    assert rules.tracked == 2
