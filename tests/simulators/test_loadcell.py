"""Load-cell simulation: indicator divisions and hold, bins without counters, labelled faults."""

from __future__ import annotations

import numpy as np
import pytest

from simulators.factory import DEFAULT_FACTORIES
from simulators.loadcell import (
    TEMPERATURE_SENSOR,
    LoadCellResult,
    division_for,
    indicate,
    simulate_loadcell_factory,
)
from simulators.truth import AnomalyKind

START = 1_735_689_600_000
STEP = 600_000
DAYS = 90


@pytest.fixture(scope="module")
def results() -> list[LoadCellResult]:
    """Three seeds of every default factory."""
    return [
        simulate_loadcell_factory(spec, START, DAYS * 86_400_000, STEP, 50 + 10 * s + i)
        for s in range(3)
        for i, spec in enumerate(DEFAULT_FACTORIES)
    ]


@pytest.mark.parametrize(("full_kg", "division"), [(48.0, 0.1), (400.0, 0.2), (3000.0, 0.5)])
def test_division_keeps_about_3000_intervals(full_kg: float, division: float) -> None:
    """0.1, 0.2 or 0.5 kg, the smallest that keeps the full bin within 3 000 divisions."""
    assert division_for(full_kg) == division


def test_indicator_shows_whole_divisions_and_holds_a_resting_value() -> None:
    """A noisy resting load reads one value throughout; a moving one steps by divisions."""
    rng = np.random.default_rng(1)
    resting = indicate(50.0 + 0.03 * rng.standard_normal(500), 0.1, 1)
    assert len(np.unique(resting)) == 1
    moving = indicate(np.linspace(50.0, 40.0, 200), 0.2, 0)
    assert np.allclose(np.round(moving / 0.2), moving / 0.2)
    assert len(np.unique(moving)) > 40


def test_weights_are_multiples_of_the_division_and_repeat(results: list[LoadCellResult]) -> None:
    """Every weight is a whole number of divisions; every bin repeats values, and in each
    factory some bin holds one value for six hours or more."""
    for result in results:
        by_sensor = {s.sensor: s for s in result.series}
        longest = 0
        for name, ind in result.indicators.items():
            w = by_sensor[f"{name}_weight"].values
            assert np.allclose(np.round(w / ind.division_kg) * ind.division_kg, w, atol=1e-6)
            assert (np.diff(w) == 0).mean() > 0.2
            changes = np.flatnonzero(np.diff(w) != 0)
            longest = max(longest, int(np.diff(changes).max()))
        assert longest >= 36


def test_one_bin_per_factory_has_no_counter(results: list[LoadCellResult]) -> None:
    """Its count series is absent, and no mis-scan is labelled on it."""
    for result in results:
        sensors = {s.sensor for s in result.series}
        uncounted = [n for n, ind in result.indicators.items() if not ind.counter]
        assert len(uncounted) == 1
        assert f"{uncounted[0]}_count" not in sensors
        assert TEMPERATURE_SENSOR in sensors
        assert not [
            e for e in result.anomalies if e.bin == uncounted[0] and e.kind is AnomalyKind.MISCOUNT
        ]


def test_faults_are_labelled_and_may_overlap(results: list[LoadCellResult]) -> None:
    """Dead cells read 0 in their window; lost readings are missing rows; overlaps are noted."""
    kinds = {e.kind for r in results for e in r.anomalies}
    assert {AnomalyKind.DEAD_CELL, AnomalyKind.PILFERAGE, AnomalyKind.TEMPERATURE_DRIFT} <= kinds
    assert AnomalyKind.MISSING in kinds
    assert any("overlaps" in e.note for r in results for e in r.anomalies)
    for result in results:
        by_sensor = {s.sensor: s for s in result.series}
        for e in result.anomalies:
            weight = by_sensor[f"{e.bin}_weight"]
            inside = (weight.ts_ms >= e.start_ms) & (weight.ts_ms <= e.end_ms)
            if e.kind is AnomalyKind.DEAD_CELL:
                assert np.all(weight.values[inside] == 0.0)
            elif e.kind is AnomalyKind.MISSING:
                assert not inside.any()


def test_pilferage_lowers_the_stock_not_the_count_until_a_stocktake(
    results: list[LoadCellResult],
) -> None:
    """The labelled loss is taken from the true stock."""
    events = [(r, e) for r in results for e in r.anomalies if e.kind is AnomalyKind.PILFERAGE]
    assert events
    for _, e in events:
        assert e.magnitude > 0


def test_same_seed_same_data() -> None:
    """Deterministic for a seed."""
    spec = DEFAULT_FACTORIES[1]
    a = simulate_loadcell_factory(spec, START, 20 * 86_400_000, STEP, 9)
    b = simulate_loadcell_factory(spec, START, 20 * 86_400_000, STEP, 9)
    assert a.anomalies == b.anomalies
    assert all(np.array_equal(x.values, y.values) for x, y in zip(a.series, b.series, strict=True))
