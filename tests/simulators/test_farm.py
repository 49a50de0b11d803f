"""Tests of the farm simulator: determinism, soil physics, ranges and crop season truth."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from edge.protocol import CATALOGUE, SensorKind
from simulators.climate import KAWAKAMI
from simulators.common import MS_PER_DAY, MS_PER_HOUR, month_of
from simulators.farm import DEFAULT_FIELDS, FarmResult, FieldSpec, simulate_farm
from simulators.truth import Crop, write_truth

START_2025 = 1_735_657_200_000  # 2025-01-01 00:00 JST
YEAR_MS = 365 * MS_PER_DAY
STEP = 10 * 60_000
LETTUCE = DEFAULT_FIELDS[0]
APPLE = DEFAULT_FIELDS[4]
RICE = DEFAULT_FIELDS[7]


@pytest.fixture(scope="module")
def year_results() -> dict[Crop, FarmResult]:
    """One simulated year at 10-minute sampling for a lettuce, an apple and a rice field."""
    return {
        spec.crop: simulate_farm(spec, START_2025, YEAR_MS, STEP, 40 + i)
        for i, spec in enumerate((LETTUCE, APPLE, RICE))
    }


@pytest.fixture(scope="module")
def lettuce_decade() -> FarmResult:
    """Ten years of a Kawakami lettuce field at hourly sampling."""
    return simulate_farm(LETTUCE, START_2025, 10 * YEAR_MS + 2 * MS_PER_DAY, MS_PER_HOUR, 7)


def _series(result: FarmResult, sensor: str) -> np.ndarray:
    """Values of one sensor of a farm result."""
    return next(s for s in result.series if s.sensor == sensor).values


def test_same_seed_identical_different_seed_differs() -> None:
    """Bit-identical series and truth for one seed; different data for another."""
    window = 60 * MS_PER_DAY
    a = simulate_farm(LETTUCE, START_2025, window, STEP, 1)
    b = simulate_farm(LETTUCE, START_2025, window, STEP, np.random.default_rng(1))
    c = simulate_farm(LETTUCE, START_2025, window, STEP, 2)
    assert [s.values.tobytes() for s in a.series] == [s.values.tobytes() for s in b.series]
    assert [s.ts_ms.tobytes() for s in a.series] == [s.ts_ms.tobytes() for s in b.series]
    assert a.seasons == b.seasons
    assert _series(a, "soil_moisture").tobytes() != _series(c, "soil_moisture").tobytes()


def test_values_in_ranges_over_a_year(year_results: dict[Crop, FarmResult]) -> None:
    """Soil moisture stays in 0–60 % vol and every reading is inside its kind's range."""
    for result in year_results.values():
        assert len(result.series) == 9
        for s in result.series:
            spec = CATALOGUE[s.kind]
            assert spec.low <= s.values.min() and s.values.max() <= spec.high, s.sensor
            assert s.kind in (SensorKind(k) for k in SensorKind)
        moisture = _series(result, "soil_moisture")
        assert moisture.min() >= 0.0 and moisture.max() <= 60.0
        assert moisture.std() > 1.0  # the bucket really moves


def test_soil_responds_to_rain_and_damps_temperature(
    year_results: dict[Crop, FarmResult],
) -> None:
    """Heavy rain wets the soil; soil temperature swings less than air temperature."""
    result = year_results[Crop.LETTUCE]
    daily = result.weather.daily
    theta = result.soil_moisture_daily
    heavy = np.flatnonzero((daily.rain_mm > 20.0) & (daily.snow_depth_cm < 1.0))[1:-1]
    assert len(heavy) >= 3
    assert np.mean(theta[heavy] > theta[heavy - 1]) >= 0.8
    air = _series(result, "air_temperature").reshape(365, -1)
    soil = _series(result, "soil_temperature").reshape(365, -1)
    summer = slice(150, 240)
    air_range = (air.max(axis=1) - air.min(axis=1))[summer].mean()
    soil_range = (soil.max(axis=1) - soil.min(axis=1))[summer].mean()
    assert soil_range < 0.8 * air_range
    wetness = _series(result, "leaf_wetness")
    assert wetness.max() == 100.0 and wetness.min() == 0.0


def test_paddy_is_flooded_in_season(year_results: dict[Crop, FarmResult]) -> None:
    """A rice paddy sits at saturation in July before mid-season drainage and in August."""
    result = year_results[Crop.RICE]
    month = month_of(result.weather.daily.day)
    august = result.soil_moisture_daily[month == 8]
    assert august.min() >= RICE.soil.saturation - 0.5
    assert result.ks_daily[month == 8].min() == 1.0


def test_season_truth_is_plausible(year_results: dict[Crop, FarmResult], tmp_path: Path) -> None:
    """Maturity months and yields follow the Nagano calendar; truth writes to CSV."""
    months = {Crop.LETTUCE: {6, 7, 8, 9, 10}, Crop.RICE: {9, 10}, Crop.APPLE: {10, 11}}
    yields = {Crop.LETTUCE: (10.0, 40.0), Crop.RICE: (3.0, 8.5), Crop.APPLE: (8.0, 36.0)}
    seasons = []
    for crop, result in year_results.items():
        assert result.seasons, crop
        for season in result.seasons:
            assert season.crop is crop and season.year == 2025
            assert season.maturity.month in months[crop], season
            low, high = yields[crop]
            assert low <= season.yield_t_ha <= high, season
            assert season.days_to_maturity == (season.maturity - season.planted).days
            assert 0.0 <= season.water_stress <= 1.0 and 0.0 <= season.heat_stress <= 1.0
        seasons += result.seasons
    assert len(year_results[Crop.LETTUCE].seasons) == len(LETTUCE.plantings)
    paths = write_truth(tmp_path, seasons=seasons)
    lines = paths[1].read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("site,field,crop,year,planted,maturity")
    assert len(lines) == len(seasons) + 1


def test_lettuce_dates_vary_between_years(lettuce_decade: FarmResult) -> None:
    """The spring lettuce takes a different number of days each year, with an SD of days."""
    spring = [s for s in lettuce_decade.seasons if s.planted.timetuple().tm_yday <= 126]
    assert len(spring) == 10
    days = np.array([s.days_to_maturity for s in spring])
    assert 2.0 <= days.std(ddof=1) <= 12.0
    assert 50 <= days.mean() <= 80
    yields = np.array([s.yield_t_ha for s in lettuce_decade.seasons])
    assert yields.std() > 0.5


def test_maturity_responds_to_temperature() -> None:
    """The same weather realisation 2 °C warmer brings every harvest earlier or equal."""
    cold = simulate_farm(LETTUCE, START_2025, 3 * YEAR_MS, MS_PER_HOUR, 3)
    warm_climate = KAWAKAMI.at_elevation("Kawakami-warm", KAWAKAMI.elevation_m - 2.0 / 0.006)
    warm_spec: FieldSpec = replace(LETTUCE, climate=warm_climate)
    warm = simulate_farm(warm_spec, START_2025, 3 * YEAR_MS, MS_PER_HOUR, 3)
    assert len(cold.seasons) == len(warm.seasons) == 6
    for c, w in zip(cold.seasons, warm.seasons, strict=True):
        assert w.days_to_maturity <= c.days_to_maturity
    mean_gain = np.mean(
        [
            c.days_to_maturity - w.days_to_maturity
            for c, w in zip(cold.seasons, warm.seasons, strict=True)
        ]
    )
    assert mean_gain >= 3.0
