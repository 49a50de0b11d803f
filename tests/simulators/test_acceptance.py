"""Acceptance checks of the simulators over every built-in site: determinism and physical bounds.

One simulated year of the standard scenario (10 farms, 5 forest stands, 3 factories at
10-minute steps) must respect: soil moisture within 0–60 % vol., no negative stock, stem
dendrometers growing monotonically at the seasonal scale, and air temperatures whose daily range
and monthly means match the climate normals cited in `simulators.climate` within 1.5 °C.

Monthly means of a single year scatter around the normals like real years do (the generator's
interannual standard deviation is 0.8–1.3 °C per month, as observed in Nagano), so the ±1.5 °C
check of monthly means is made on the multi-year average, the way normals are defined; the
single year is checked for its daily range and, loosely, for its monthly means.
"""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pytest

from edge.protocol import SensorKind
from simulators.climate import Climate
from simulators.common import MS_PER_DAY, local_day, month_of
from simulators.farm import DEFAULT_FIELDS
from simulators.faults import generate
from simulators.forest import DEFAULT_STANDS
from simulators.scenario import Scenario, SiteData, Truth, simulate_sites
from simulators.weather import simulate_weather

START_2025 = 1_735_657_200_000  # 2025-01-01 00:00 JST
STEP = 600_000
PER_DAY = MS_PER_DAY // STEP
CLIMATES: dict[str, Climate] = {f.site: f.climate for f in DEFAULT_FIELDS} | {
    s.site: s.climate for s in DEFAULT_STANDS
}


@pytest.fixture(scope="module")
def year() -> list[SiteData]:
    """One simulated year of the standard 18-site scenario."""
    scenario = Scenario(10, 5, 3, START_2025, 365 * MS_PER_DAY, STEP, seed=1)
    return list(simulate_sites(scenario, Truth()))


def _run(seed: int, folder: Path) -> list[bytes]:
    """Every series' bytes of a 20-day 18-site scenario; its truth written to `folder`."""
    truth = Truth()
    scenario = Scenario(10, 5, 3, START_2025 + 150 * MS_PER_DAY, 20 * MS_PER_DAY, STEP, seed)
    out = []
    for site in simulate_sites(scenario, truth):
        out.extend(s.ts_ms.tobytes() + s.values.tobytes() for s in site.series)
    truth.write(folder)
    return out


def test_same_seed_same_output_bit_for_bit(tmp_path: Path) -> None:
    """All readings and truth files are identical for one seed, and differ for another."""
    a, b = _run(3, tmp_path / "a"), _run(3, tmp_path / "b")
    assert a == b
    names = ["anomalies.csv", "seasons.csv", "stands.csv"]
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", names, shallow=False)
    assert match == names and not mismatch and not errors
    assert _run(4, tmp_path / "c") != a
    sites = [f.site for f in DEFAULT_FIELDS]
    faults = [generate(sites, 0, 30 * MS_PER_DAY, STEP, rate_per_day=0.5, seed=3) for _ in "ab"]
    assert faults[0] == faults[1]


def test_soil_moisture_within_0_to_60_percent_everywhere(year: list[SiteData]) -> None:
    """Every farm field and forest stand keeps soil moisture in 0–60 % vol. all year."""
    checked = 0
    for site in year:
        for s in site.series:
            if s.kind is SensorKind.SOIL_MOISTURE:
                assert s.values.min() >= 0.0 and s.values.max() <= 60.0, site.site
                checked += 1
    assert checked == 15


def test_no_negative_stock(year: list[SiteData]) -> None:
    """Bin weights and item counts of every factory are never negative."""
    bins = [
        s
        for site in year
        for s in site.series
        if s.kind in (SensorKind.BIN_WEIGHT, SensorKind.ITEM_COUNT)
    ]
    assert len(bins) >= 6
    for s in bins:
        assert s.values.min() >= 0.0, s.sensor


def test_dendrometers_grow_monotonically_at_the_seasonal_scale(year: list[SiteData]) -> None:
    """Monthly means of every stem radius never fall; the year adds wood."""
    stems = [s for site in year for s in site.series if s.kind is SensorKind.STEM_RADIUS]
    assert len(stems) >= 5
    for s in stems:
        monthly = s.values[: 360 * PER_DAY].reshape(12, -1).mean(axis=1)
        assert np.diff(monthly).min() >= -20.0, s.sensor  # µm: within shrink-and-swell noise
        assert monthly[-1] - monthly[0] > 100.0, s.sensor


def _daily(site: SiteData) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per day: month, mean, max and min of a site's air temperature readings."""
    air = next(s for s in site.series if s.kind is SensorKind.AIR_TEMPERATURE)
    days = air.values.reshape(-1, PER_DAY)
    month = month_of(local_day(air.ts_ms).reshape(-1, PER_DAY)[:, 0])
    return month, days.mean(axis=1), days.max(axis=1), days.min(axis=1)


def test_one_year_of_temperatures_against_each_sites_normals(year: list[SiteData]) -> None:
    """Daily range within 1.5 °C of the normal every month; monthly means within weather noise."""
    checked = 0
    for site in year:
        if site.site not in CLIMATES:
            continue
        climate = CLIMATES[site.site]
        month, mean, high, low = _daily(site)
        for m in range(1, 13):
            sel = month == m
            normal_range = climate.tmax[m - 1] - climate.tmin[m - 1]
            assert abs((high[sel] - low[sel]).mean() - normal_range) <= 1.5, (site.site, m)
            # A single year: about three interannual standard deviations.
            assert abs(mean[sel].mean() - climate.tmean[m - 1]) <= 4.5, (site.site, m)
        assert abs(mean.mean() - np.mean(climate.tmean)) <= 1.5, site.site
        checked += 1
    assert checked == 15


@pytest.mark.parametrize(
    "climate",
    sorted({c.name: c for c in CLIMATES.values()}.values(), key=lambda c: c.name),
    ids=lambda c: c.name,
)
def test_climatology_of_every_site_matches_its_normals(climate: Climate) -> None:
    """Averaged over six years, each site's monthly mean, max, min and range are within 1.5 °C."""
    weather = simulate_weather(climate, START_2025, 6 * 365 * MS_PER_DAY, 21)
    daily = weather.daily
    month = month_of(daily.day)
    for m in range(1, 13):
        sel = month == m
        assert abs(daily.tmean[sel].mean() - climate.tmean[m - 1]) <= 1.5, m
        assert abs(daily.tmax[sel].mean() - climate.tmax[m - 1]) <= 1.5, m
        assert abs(daily.tmin[sel].mean() - climate.tmin[m - 1]) <= 1.5, m
        spread = (daily.tmax[sel] - daily.tmin[sel]).mean()
        assert abs(spread - (climate.tmax[m - 1] - climate.tmin[m - 1])) <= 1.5, m
