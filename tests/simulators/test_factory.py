"""Tests of the factory simulator: determinism, stock physics and labelled anomalies."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import pytest

from edge.protocol import CATALOGUE, SensorKind
from simulators.common import MS_PER_DAY, local_day
from simulators.factory import (
    DEFAULT_FACTORIES,
    FactoryResult,
    ShiftPattern,
    activity,
    simulate_factory,
)
from simulators.truth import FACTORY_KINDS, AnomalyEvent, AnomalyKind, write_truth

START_2025 = 1_735_657_200_000  # 2025-01-01 00:00 JST
YEAR_MS = 365 * MS_PER_DAY
STEP = 10 * 60_000


@pytest.fixture(scope="module")
def results() -> list[FactoryResult]:
    """One simulated year of every default factory."""
    return [
        simulate_factory(spec, START_2025, YEAR_MS, STEP, 60 + i)
        for i, spec in enumerate(DEFAULT_FACTORIES)
    ]


def _values(result: FactoryResult, sensor: str) -> np.ndarray:
    """Values of one sensor of a factory result."""
    return next(s for s in result.series if s.sensor == sensor).values


def _window(result: FactoryResult, event: AnomalyEvent) -> slice:
    """Sample indices covered by an anomaly, end inclusive."""
    ts = result.series[0].ts_ms
    return slice(
        int(np.searchsorted(ts, event.start_ms)), int(np.searchsorted(ts, event.end_ms)) + 1
    )


def test_same_seed_identical_different_seed_differs() -> None:
    """Bit-identical series and truth for one seed; different data and truth for another."""
    spec = DEFAULT_FACTORIES[0]
    a = simulate_factory(spec, START_2025, 60 * MS_PER_DAY, STEP, 1)
    b = simulate_factory(spec, START_2025, 60 * MS_PER_DAY, STEP, np.random.default_rng(1))
    c = simulate_factory(spec, START_2025, 60 * MS_PER_DAY, STEP, 2)
    assert [s.values.tobytes() for s in a.series] == [s.values.tobytes() for s in b.series]
    assert a.anomalies == b.anomalies
    assert [s.values.tobytes() for s in a.series] != [s.values.tobytes() for s in c.series]
    assert a.anomalies != c.anomalies


def test_stock_never_negative_and_readings_in_range(results: list[FactoryResult]) -> None:
    """Physical stock, weights and counts are never negative and stay inside kind ranges."""
    for result in results:
        for name, stock in result.stock.items():
            bin_spec = next(b for b in result.spec.bins if b.name == name)
            assert stock.min() >= 0 and stock.max() <= bin_spec.capacity
        for s in result.series:
            spec = CATALOGUE[s.kind]
            assert s.values.min() >= 0.0 and s.values.max() <= spec.high, s.sensor
            if s.kind is SensorKind.ITEM_COUNT:
                assert (s.values == np.round(s.values)).all()


def test_consumption_follows_shifts_and_weekends(results: list[FactoryResult]) -> None:
    """A day-only plant consumes nothing at night or at weekends; weekdays dominate."""
    result = results[2]
    assert result.spec.shifts is ShiftPattern.DAY_ONLY
    ts = result.series[0].ts_ms
    level = activity(ts, result.spec.shifts)
    weekday = (local_day(ts) + 3) % 7
    stock = result.stock["jars"]
    used = np.maximum(-np.diff(stock), 0)
    assert used[level[1:] == 0].sum() <= used.sum() * 0.05  # only theft happens off shift
    assert used[weekday[1:] < 5].sum() > 0.95 * used.sum()
    deliveries = np.flatnonzero(np.diff(stock) > 0)
    assert len(deliveries) >= 20


def test_truth_lists_every_anomaly_without_overlap(results: list[FactoryResult]) -> None:
    """Each kind is injected the configured number of times, in order, disjoint, in the window."""
    for result in results:
        events = result.anomalies
        per_kind = result.spec.anomalies_per_kind
        for kind in FACTORY_KINDS:
            assert sum(e.kind is kind for e in events) == per_kind, kind
        for e in events:
            assert START_2025 <= e.start_ms <= e.end_ms < START_2025 + YEAR_MS
            assert e.bin in {b.name for b in result.spec.bins}
            assert e.sensor in {s.sensor for s in result.series}
        for first, second in itertools.pairwise(events):
            assert first.end_ms < second.start_ms


def test_injected_anomalies_are_visible(results: list[FactoryResult]) -> None:
    """Flat lines are flat, spikes stick out, drifts offset, thefts and mis-scans show."""
    for result in results:
        for e in result.anomalies:
            spec = next(b for b in result.spec.bins if b.name == e.bin)
            w = _window(result, e)
            weight = _values(result, f"{e.bin}_weight")
            count = _values(result, f"{e.bin}_count")
            stock = result.stock[e.bin]
            residual = weight - stock * spec.unit_kg
            full_kg = spec.capacity * spec.unit_kg
            if e.kind is AnomalyKind.STUCK:
                assert np.ptp(weight[w]) == 0.0 and weight[w][0] == round(e.magnitude, 3)
                assert np.ptp(weight[w.stop : w.stop + 50]) > 0.0
            elif e.kind is AnomalyKind.SPIKE:
                assert np.abs(residual[w]).min() >= 0.15 * full_kg or weight[w].min() == 0.0
            elif e.kind is AnomalyKind.DRIFT:
                assert abs(residual[w.stop - 1] - e.magnitude) <= 0.01 * full_kg + 0.1
                assert abs(residual[w.stop + 5]) <= 0.01 * full_kg + 0.1
            elif e.kind is AnomalyKind.SHRINKAGE:
                gap_before = count[w.start - 1] - stock[w.start - 1]
                gap_after = count[w.stop - 1] - stock[w.stop - 1]
                assert gap_after - gap_before == e.magnitude
            elif e.kind is AnomalyKind.MISCOUNT:
                offset = count[w] - np.maximum(stock[w], 0)
                if count[w].min() > 0:
                    assert (offset == e.magnitude).all()
                assert count[w.stop] == stock[w.stop] or w.stop == len(stock)


def test_rate_change_changes_consumption(results: list[FactoryResult]) -> None:
    """Consumption per unit of shift activity moves in the direction of the injected factor."""
    for result in results:
        ts = result.series[0].ts_ms
        level = activity(ts, result.spec.shifts)
        for e in (a for a in result.anomalies if a.kind is AnomalyKind.RATE_CHANGE):
            stock = result.stock[e.bin]
            used = np.concatenate([[0], np.maximum(-np.diff(stock), 0)])
            w = _window(result, e)
            inside = used[w].sum() / max(level[w].sum(), 1e-9)
            base = np.r_[w.start - 2000 : w.start, w.stop : w.stop + 2000]
            base = base[(base >= 0) & (base < len(stock))]
            outside = used[base].sum() / max(level[base].sum(), 1e-9)
            if e.magnitude > 1:
                assert inside > 1.2 * outside
            else:
                assert inside < 0.8 * outside


def test_anomaly_csv_round_trip(results: list[FactoryResult], tmp_path: Path) -> None:
    """The anomaly truth CSV has one row per event with start, end and kind."""
    events = [e for r in results for e in r.anomalies]
    paths = write_truth(tmp_path, anomalies=events)
    with paths[0].open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(events)
    assert rows[0]["kind"] in {k.value for k in AnomalyKind}
    assert int(rows[0]["start_ms"]) == events[0].start_ms
    assert int(rows[0]["end_ms"]) == events[0].end_ms
