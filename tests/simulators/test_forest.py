"""Tests of the forest simulator: determinism, dendrometer behaviour, ranges and volume truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.protocol import CATALOGUE, SensorKind
from simulators.common import JST_OFFSET_MS, MS_PER_DAY, MS_PER_HOUR
from simulators.forest import DEFAULT_STANDS, ForestResult, chapman_richards, simulate_forest
from simulators.truth import Species, write_truth

START_2025 = 1_735_657_200_000  # 2025-01-01 00:00 JST
YEAR_MS = 365 * MS_PER_DAY
STEP = 10 * 60_000
PER_DAY = MS_PER_DAY // STEP


@pytest.fixture(scope="module", params=[0, 3], ids=["larch", "sugi"])
def year_result(request: pytest.FixtureRequest) -> ForestResult:
    """One year of a larch and of a sugi stand at 10-minute sampling."""
    return simulate_forest(DEFAULT_STANDS[request.param], START_2025, YEAR_MS, STEP, 17)


def _dendrometers(result: ForestResult) -> list[np.ndarray]:
    """Stem radius series of a stand, reshaped to (day, sample of day)."""
    return [
        s.values.reshape(-1, PER_DAY) for s in result.series if s.kind is SensorKind.STEM_RADIUS
    ]


def test_same_seed_identical_different_seed_differs() -> None:
    """Bit-identical series and truth for one seed; different data for another."""
    spec = DEFAULT_STANDS[1]
    a = simulate_forest(spec, START_2025, 90 * MS_PER_DAY, STEP, 5)
    b = simulate_forest(spec, START_2025, 90 * MS_PER_DAY, STEP, np.random.default_rng(5))
    c = simulate_forest(spec, START_2025, 90 * MS_PER_DAY, STEP, 6)
    assert [s.values.tobytes() for s in a.series] == [s.values.tobytes() for s in b.series]
    assert a.years == b.years
    assert [s.values.tobytes() for s in a.series] != [s.values.tobytes() for s in c.series]


def test_readings_in_ranges(year_result: ForestResult) -> None:
    """Every reading is inside its kind's range; soil moisture within 0–60 % vol."""
    kinds = {s.kind for s in year_result.series}
    assert SensorKind.STEM_RADIUS in kinds and SensorKind.WIND_SPEED in kinds
    for s in year_result.series:
        spec = CATALOGUE[s.kind]
        assert spec.low <= s.values.min() and s.values.max() <= spec.high, s.sensor
    moisture = next(s for s in year_result.series if s.sensor == "soil_moisture").values
    assert moisture.min() >= 0.0 and moisture.max() <= 60.0


def test_dendrometer_grows_monotonically_at_seasonal_scale(year_result: ForestResult) -> None:
    """Weekly means never fall by more than frost/drought shrinkage; growth only in season."""
    for radius in _dendrometers(year_result):
        daily_max = radius.max(axis=1)
        # Reversible shrinkage never takes a stem more than 150 µm below its previous maximum.
        assert (np.maximum.accumulate(daily_max) - daily_max).max() <= 150.0
        weekly = radius[:364].reshape(52, -1).mean(axis=1)
        assert np.diff(weekly).min() >= -60.0
        annual = weekly[-1] - weekly[0]
        assert 150.0 <= annual <= 3000.0
        winter = abs(weekly[12] - weekly[0])  # January to March: dormant
        assert winter <= 0.1 * annual + 60.0
        summer = weekly[34] - weekly[17]  # May to August: most of the year's wood
        assert summer >= 0.6 * annual


def test_stem_shrinks_in_afternoon_and_more_when_dry(year_result: ForestResult) -> None:
    """In summer the stem is thinnest in the afternoon, thickest at dawn, swings more when dry."""
    ts = year_result.series[0].ts_ms
    hour = (((ts + JST_OFFSET_MS) % MS_PER_DAY) // MS_PER_HOUR).reshape(-1, PER_DAY)[0]
    ks = year_result.ks_daily[:365]
    for radius in _dendrometers(year_result):
        summer = radius[150:250] - radius[150:250].mean(axis=1, keepdims=True)
        profile = np.array([summer[:, hour == h].mean() for h in range(24)])
        assert 12 <= int(np.argmin(profile)) <= 19
        assert int(np.argmax(profile)) <= 9 or int(np.argmax(profile)) >= 22
        amplitude = radius.max(axis=1) - radius.min(axis=1)
        season = np.zeros(365, dtype=bool)
        season[150:270] = True
        dry, moist = season & (ks < 0.6), season & (ks > 0.95)
        if year_result.spec.species is Species.SUGI:
            # This seed gives the lowland sugi stand a summer dry spell.
            assert dry.sum() >= 5 and moist.sum() >= 5
        if dry.sum() >= 5 and moist.sum() >= 5:
            assert amplitude[dry].mean() > 1.2 * amplitude[moist].mean()


def test_volume_truth_follows_the_growth_curve() -> None:
    """Yearly volume rises along the species curve, varying with each year's weather."""
    spec = DEFAULT_STANDS[3]
    result = simulate_forest(spec, START_2025, 5 * YEAR_MS + 2 * MS_PER_DAY, MS_PER_HOUR, 8)
    years = result.years
    assert [y.year for y in years] == [2025, 2026, 2027, 2028, 2029, 2030]
    assert all(y.species is Species.SUGI for y in years)
    volumes = np.array([y.volume_m3_ha for y in years])
    assert (np.diff(volumes) > 0).all()
    for y in years:
        curve = float(chapman_richards(y.age, Species.SUGI))
        assert abs(y.volume_m3_ha - curve) <= 0.1 * curve
        assert y.increment_m3_ha > 0 and y.radial_increment_um > 0
    increments = np.array([y.increment_m3_ha for y in years])
    assert increments.std() / increments.mean() > 0.02


def test_stand_truth_csv(year_result: ForestResult, tmp_path: Path) -> None:
    """Stand truth writes one row per stand-year."""
    paths = write_truth(tmp_path, stands=year_result.years)
    lines = paths[2].read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("site,stand,species,year,age,volume_m3_ha")
    assert len(lines) == len(year_result.years) + 1 == 2
