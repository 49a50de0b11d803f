"""Simulated forest stands: weather mast, soil, stem dendrometers and yearly stand volume.

Stand volume follows the Chapman–Richards curve V(t) = A (1 - exp(-k t))^c of the species'
yield table (`models.forest.species`, the table the API fits stands against). Each
year's increment is the curve's increment scaled by that year's growing conditions (warmth in
the cambial season and soil water), so weather leaves a mark on the truth.

Dendrometers see the radial increment of individual trees, laid down in the growing season only,
plus the daily shrink-and-swell of the bark and phloem: contraction while the crown transpires
(afternoon), refilling at night, with larger and slower-recovering swings when the soil is dry,
and a small contraction when the stem freezes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.time import MS_PER_DAY
from edge.protocol import SensorKind
from models.forest.species import SPECIES, Species, SpeciesTraits
from simulators.climate import KAWAKAMI, NAGANO_CITY, Climate, climatology
from simulators.common import (
    FloatArray,
    Seed,
    SensorSeries,
    day_of_year,
    local_day,
    make_rng,
    series,
    time_grid,
    year_of,
)
from simulators.soil import (
    FOREST_BROWN,
    Soil,
    daily_mean,
    hourly_to,
    soil_temperature,
    water_balance,
)
from simulators.solar import saturation_vapour_kpa
from simulators.stations import weather_station
from simulators.truth import StandYear
from simulators.weather import Weather, simulate_weather

SHRINK_UM_PER_H = 8.0
FROST_UM_PER_C = 5.0
FROST_MAX_UM = 100.0


@dataclass(frozen=True, slots=True)
class StandSpec:
    """One stand: site, species, age on 1 January of the first simulated year, soil, trees."""

    site: str
    name: str
    species: Species
    climate: Climate
    age: int
    dbh_cm: float
    soil: Soil = FOREST_BROWN
    dendrometers: int = 3


@dataclass(frozen=True, slots=True, eq=False)
class ForestResult:
    """Sensor series, yearly stand truth and the underlying weather of one stand."""

    spec: StandSpec
    series: list[SensorSeries]
    years: list[StandYear]
    weather: Weather
    stem_growth_um: FloatArray
    soil_moisture_daily: FloatArray
    ks_daily: FloatArray  # water-stress factor: 1 unstressed, 0 wilting


DEFAULT_STANDS: tuple[StandSpec, ...] = (
    StandSpec(
        "minamimaki-01",
        "larch-a",
        Species.LARCH,
        KAWAKAMI.at_elevation("Minamimaki", 1300.0),
        45,
        26.0,
    ),
    StandSpec(
        "karuizawa-01",
        "larch-b",
        Species.LARCH,
        NAGANO_CITY.at_elevation("Karuizawa", 1000.0, latitude=36.34, longitude=138.63),
        30,
        19.0,
    ),
    StandSpec(
        "ina-01",
        "larch-c",
        Species.LARCH,
        NAGANO_CITY.at_elevation("Ina", 900.0, latitude=35.83, longitude=137.95),
        60,
        30.0,
    ),
    StandSpec(
        "nagano-03",
        "sugi-a",
        Species.SUGI,
        NAGANO_CITY.at_elevation("Togakushi-foot", 700.0),
        40,
        28.0,
    ),
    StandSpec(
        "kiso-01",
        "sugi-b",
        Species.SUGI,
        NAGANO_CITY.at_elevation("Kiso", 800.0, latitude=35.84, longitude=137.69),
        55,
        34.0,
    ),
)


def chapman_richards(age: FloatArray | float, species: Species) -> FloatArray:
    """Stand volume (m³/ha) at `age` years on the species' Chapman–Richards curve."""
    return SPECIES[species].yield_table.volume(age)


def _growth_weight(doy: np.ndarray, tmean: FloatArray, p: SpeciesTraits) -> FloatArray:
    """Daily cambial activity: a bump over the growing season times warmth above 5 °C."""
    phase = (doy - p.growth_start_doy) / (p.growth_end_doy - p.growth_start_doy)
    bump = np.where((phase > 0) & (phase < 1), np.sin(np.pi * np.clip(phase, 0, 1)) ** 2, 0.0)
    return bump * np.clip((tmean - 5.0) / 10.0, 0.0, 1.0)


def simulate_forest(
    spec: StandSpec,
    start_ms: int,
    duration_ms: int,
    step_ms: int,
    seed: Seed,
    *,
    weather: Weather | None = None,
) -> ForestResult:
    """Simulate one stand over [start, start+duration) sampled every `step_ms`."""
    rng = make_rng(seed)
    if weather is None:
        weather = simulate_weather(spec.climate, start_ms, duration_ms, rng)
    if not weather.covers(start_ms, start_ms + duration_ms):
        raise ValueError("the weather does not cover the simulated window")
    p = SPECIES[spec.species]
    daily, hourly = weather.daily, weather.hourly
    n_days = len(daily.day)
    doy = day_of_year(daily.day)
    years = year_of(daily.day)
    leaf = (doy >= p.leaf_on_doy) & (doy <= p.leaf_off_doy)
    kc = np.where(leaf, p.kc_leaf, p.kc_bare) * np.where(daily.snow_depth_cm > 1.0, 0.2, 1.0)
    # Evergreen sugi transpires little when cold.
    kc = kc * np.clip((daily.tmean + 2.0) / 8.0, 0.1, 1.0)
    sun = hourly.solar_radiation.reshape(n_days, 24)
    day_sun = sun.sum(axis=1, keepdims=True)
    shape = np.where(day_sun > 0, sun / np.maximum(day_sun, 1e-9), 1.0 / 24.0)
    demand = (shape * (daily.et0_mm * kc)[:, None]).ravel()
    through = (hourly.rain_mm + hourly.melt_mm) * np.where(
        np.repeat(leaf, 24), 1.0 - p.interception, 1.0 - 0.3 * p.interception
    )
    theta, ks = water_balance(spec.soil, through, demand, spec.soil.field_capacity)
    ks_daily = daily_mean(ks)
    # Growth: the year's share of the curve increment, scaled by its growing conditions.
    weight = _growth_weight(doy, daily.tmean, p) * (0.3 + 0.7 * ks_daily)
    reference = float(
        _growth_weight(
            np.arange(1, 366), climatology(spec.climate.tmean, np.arange(1, 366)), p
        ).sum()
    )
    first_year = int(years[0])
    volume = float(chapman_richards(spec.age, spec.species))
    vigour = np.exp(0.2 * rng.standard_normal(spec.dendrometers))
    radius_um = spec.dbh_cm * 5_000.0 * vigour
    daily_growth = np.zeros((n_days, spec.dendrometers))
    truth: list[StandYear] = []
    for y in np.unique(years):
        in_year = years == y
        age = spec.age + int(y) - first_year
        factor = float(weight[in_year].sum()) / reference
        increment = float(
            chapman_richards(age + 1, spec.species) - chapman_richards(age, spec.species)
        )
        increment *= factor
        # V grows as D^2.5 roughly, so dD/D is dV/V / 2.5.
        radial = increment / volume / 2.5 * radius_um
        share = weight[in_year] / max(float(weight[in_year].sum()), 1e-9)
        daily_growth[in_year] = share[:, None] * radial[None, :]
        radius_um += radial
        volume += increment
        truth.append(
            StandYear(
                spec.site,
                spec.name,
                spec.species,
                int(y),
                age + 1,
                round(volume, 2),
                round(increment, 3),
                round(float(radial.mean()), 1),
            )
        )
    cumulative = np.cumsum(daily_growth, axis=0)
    day_end = hourly.t_ms[::24] + MS_PER_DAY
    ts = time_grid(start_ms, duration_ms, step_ms)
    n = len(ts)
    first_day, last_day = int(local_day(start_ms)), int(local_day(start_ms + duration_ms - 1))
    water = _stem_water(weather, ks, leaf)
    out = weather_station(weather, ts, step_ms, rng)
    out += [
        series(
            "soil_moisture",
            SensorKind.SOIL_MOISTURE,
            ts,
            np.clip(hourly_to(ts, weather, theta) + 0.4 * rng.standard_normal(n), 0.0, 60.0),
            1,
        ),
        series(
            "soil_temperature",
            SensorKind.SOIL_TEMPERATURE,
            ts,
            hourly_to(ts, weather, soil_temperature(weather, shading=0.8, tau_h=10.0)),
            2,
        ),
    ]
    amplitude = np.exp(0.25 * rng.standard_normal(spec.dendrometers))
    for j in range(spec.dendrometers):
        growth = np.interp(ts, day_end, cumulative[:, j], left=0.0)
        radius = growth - amplitude[j] * hourly_to(ts, weather, water)
        radius = radius - radius[0] + 0.5 * rng.standard_normal(n)
        out.append(series(f"stem_radius_{j + 1}", SensorKind.STEM_RADIUS, ts, radius, 1))
    kept = [
        t
        for t in truth
        if year_of(np.array([first_day]))[0] <= t.year <= year_of(np.array([last_day]))[0]
    ]
    return ForestResult(
        spec, out, kept, weather, cumulative.mean(axis=1), daily_mean(theta), ks_daily
    )


def _stem_water(weather: Weather, ks: FloatArray, leaf: np.ndarray) -> FloatArray:
    """Hourly stem contraction (µm, positive = shrunk) from transpiration and frost."""
    hourly = weather.hourly
    vpd = saturation_vapour_kpa(hourly.air_temperature) * (1.0 - hourly.relative_humidity / 100.0)
    leaf_h = np.repeat(leaf, 24)
    # Evergreens still transpire a little in winter; leafless larch hardly at all.
    demand = (
        hourly.solar_radiation / 800.0 * np.minimum(vpd / 1.5, 2.0) * np.where(leaf_h, 1.0, 0.2)
    )
    draw = SHRINK_UM_PER_H * demand * (1.0 + 2.0 * (1.0 - ks))
    refill = 0.15 * (0.2 + 0.8 * ks)
    out = np.empty(len(draw))
    deficit = 0.0
    for i, (d, r) in enumerate(zip(draw.tolist(), refill.tolist(), strict=True)):
        deficit = deficit + d - r * deficit
        out[i] = deficit
    frozen = np.minimum(FROST_UM_PER_C * np.maximum(-hourly.air_temperature, 0.0), FROST_MAX_UM)
    return out + frozen
