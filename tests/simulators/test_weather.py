"""Tests of the weather generator: determinism, climate normals, variability and physics."""

from __future__ import annotations

import numpy as np
import pytest

from edge.protocol import CATALOGUE
from simulators.climate import KAWAKAMI, NAGANO_CITY, Climate
from simulators.common import (
    JST_OFFSET_MS,
    MS_PER_DAY,
    MS_PER_HOUR,
    iter_readings,
    local_day,
    month_of,
    time_grid,
    year_of,
)
from simulators.stations import weather_station
from simulators.weather import Weather, simulate_weather

START_2025 = 1_735_657_200_000  # 2025-01-01 00:00 JST
YEAR_MS = 365 * MS_PER_DAY
STEP = 10 * 60_000
YEARS = 6


@pytest.fixture(scope="module", params=[NAGANO_CITY, KAWAKAMI], ids=lambda c: c.name)
def multi_year(request: pytest.FixtureRequest) -> tuple[Climate, Weather]:
    """Six simulated years of one site."""
    climate: Climate = request.param
    return climate, simulate_weather(climate, START_2025, YEARS * YEAR_MS, 11)


def test_same_seed_is_bit_identical_and_other_seed_differs() -> None:
    """Same seed gives identical arrays; a Generator works like its seed; another seed differs."""
    a = simulate_weather(NAGANO_CITY, START_2025, YEAR_MS, 3)
    b = simulate_weather(NAGANO_CITY, START_2025, YEAR_MS, np.random.default_rng(3))
    c = simulate_weather(NAGANO_CITY, START_2025, YEAR_MS, 4)
    for name in ("air_temperature", "rain_mm", "solar_radiation", "wind_speed", "cloud"):
        assert getattr(a.hourly, name).tobytes() == getattr(b.hourly, name).tobytes()
        assert getattr(a.hourly, name).tobytes() != getattr(c.hourly, name).tobytes()
    ts = time_grid(START_2025, 30 * MS_PER_DAY, STEP)
    sa, sb = weather_station(a, ts, STEP, 9), weather_station(b, ts, STEP, 9)
    assert [s.values.tobytes() for s in sa] == [s.values.tobytes() for s in sb]


def test_monthly_temperatures_match_cited_normals(multi_year: tuple[Climate, Weather]) -> None:
    """Averaged over six years, monthly max, min, range and mean are within 1.5 °C of normals."""
    climate, weather = multi_year
    daily = weather.daily
    month = month_of(daily.day)
    for m in range(1, 13):
        sel = month == m
        tmax, tmin = daily.tmax[sel].mean(), daily.tmin[sel].mean()
        assert abs(tmax - climate.tmax[m - 1]) <= 1.5, (m, tmax)
        assert abs(tmin - climate.tmin[m - 1]) <= 1.5, (m, tmin)
        normal_range = climate.tmax[m - 1] - climate.tmin[m - 1]
        assert abs((tmax - tmin) - normal_range) <= 1.5, m
        assert abs(daily.tmean[sel].mean() - climate.tmean[m - 1]) <= 1.5, m


def test_weather_is_not_calm(multi_year: tuple[Climate, Weather]) -> None:
    """Year-to-year monthly anomalies and multi-day spells have realistic size."""
    _, weather = multi_year
    daily = weather.daily
    month, year = month_of(daily.day), year_of(daily.day)
    spreads = []
    for m in range(1, 13):
        means = [daily.tmean[(month == m) & (year == y)].mean() for y in np.unique(year)]
        spreads.append(np.std(means, ddof=1))
    # Observed s.d. of monthly mean temperature in central Japan is about 1 to 1.5 °C.
    assert 0.6 <= float(np.mean(spreads)) <= 2.5
    # Daily anomalies persist for several days.
    smooth = np.convolve(daily.tmean, np.ones(31) / 31, mode="same")
    anomaly = (daily.tmean - smooth)[30:-30]
    lag1 = np.corrcoef(anomaly[:-1], anomaly[1:])[0, 1]
    assert 0.4 <= lag1 <= 0.9
    assert 1.5 <= anomaly.std() <= 4.0


def test_rain_snow_and_seasons(multi_year: tuple[Climate, Weather]) -> None:
    """Annual rain near normal, a wet tsuyu, late-summer typhoons, snow only in the cold season."""
    climate, weather = multi_year
    daily = weather.daily
    month = month_of(daily.day)
    annual = daily.precip_mm.sum() / YEARS
    assert abs(annual - sum(climate.precip_mm)) <= 0.2 * sum(climate.precip_mm)
    may_june_july = [daily.precip_mm[month == m].sum() / YEARS for m in (5, 6, 7)]
    assert may_june_july[1] > may_june_july[0] and may_june_july[2] > may_june_july[0]
    assert daily.tsuyu.any() and set(np.unique(month[daily.tsuyu])) <= {5, 6, 7, 8}
    assert set(np.unique(month[daily.typhoon])) <= {7, 8, 9, 10, 11}
    assert daily.snow_mm.sum() > 0
    # Highland sites may see snow in late October or early May, never in summer.
    assert not set(np.unique(month[daily.snow_mm > 0.5])) & {6, 7, 8, 9}
    assert weather.hourly.rain_mm.max() < 120.0
    assert daily.precip_mm.max() > 40.0  # at least one heavy day in six years


def test_solar_radiation_and_diurnal_cycle(multi_year: tuple[Climate, Weather]) -> None:
    """No sun at night, sane peaks, brighter summer days, warmest in mid-afternoon."""
    _, weather = multi_year
    hourly, daily = weather.hourly, weather.daily
    local_hour = ((hourly.t_ms + JST_OFFSET_MS) % MS_PER_DAY) // MS_PER_HOUR
    assert hourly.solar_radiation[(local_hour < 3) | (local_hour >= 21)].max() == 0.0
    assert hourly.solar_radiation.max() < 1200.0
    month = month_of(daily.day)
    june, december = daily.radiation_mj[month == 6].mean(), daily.radiation_mj[month == 12].mean()
    assert june > 1.5 * december
    assert 11.0 <= daily.radiation_mj.mean() <= 17.5
    by_hour = [hourly.air_temperature[local_hour == h].mean() for h in range(24)]
    assert 12 <= int(np.argmax(by_hour)) <= 16
    assert 3 <= int(np.argmin(by_hour)) <= 7


def test_station_readings_in_range_and_rain_conserved() -> None:
    """Every reading is inside its kind's range and the tipping bucket sums to the rain."""
    weather = simulate_weather(NAGANO_CITY, START_2025, YEAR_MS, 21)
    ts = time_grid(START_2025, YEAR_MS, STEP)
    readings = weather_station(weather, ts, STEP, 22)
    for s in readings:
        spec = CATALOGUE[s.kind]
        assert s.values.min() >= spec.low and s.values.max() <= spec.high, s.sensor
        assert len(s.values) == len(ts) and np.isfinite(s.values).all()
    rain = next(s for s in readings if s.sensor == "rainfall").values
    total = weather.hourly.rain_mm[: 365 * 24].sum()
    assert abs(rain.sum() - total) <= 0.2 + 1e-6
    assert local_day(ts[0]) == weather.daily.day[0]


def test_sub_window_is_inside_the_same_realisation() -> None:
    """A window inside a year sees the same weather as the whole year for the same seed."""
    year = simulate_weather(NAGANO_CITY, START_2025, YEAR_MS, 5)
    june = simulate_weather(NAGANO_CITY, START_2025 + 151 * MS_PER_DAY, 30 * MS_PER_DAY, 5)
    assert year.hourly.air_temperature.tobytes() == june.hourly.air_temperature.tobytes()


def test_iter_readings_merges_series_in_time_order() -> None:
    """The common output shape: (sensor, kind, ts_ms, value) tuples in time order."""
    weather = simulate_weather(KAWAKAMI, START_2025, MS_PER_DAY, 2)
    ts = time_grid(START_2025, MS_PER_DAY, STEP)
    readings = list(iter_readings(weather_station(weather, ts, STEP, 3)))
    assert len(readings) == 6 * len(ts)
    times = [r[2] for r in readings]
    assert times == sorted(times) and times[0] == START_2025
    sensor, kind, _, value = readings[0]
    assert sensor == kind.value == "air_temperature" and isinstance(value, float)
