"""Simulated farm fields: weather mast, soil moisture and temperature, leaf wetness, crop seasons.

Soil water is an hourly bucket (see `simulators.soil`) fed by rain and snowmelt and emptied by
drainage and evapotranspiration: Hargreaves reference ET times a crop coefficient that follows
the crop's phenology, reduced by the water-stress factor. Phenology is driven by growing-degree
days only (temperature), so water stress changes yields but not dates. Ground truth is one
`SeasonOutcome` per season whose maturity falls inside the sampled window.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge.protocol import SensorKind
from simulators import crops
from simulators.climate import KAWAKAMI, NAGANO_CITY, Climate
from simulators.common import (
    FloatArray,
    Seed,
    SensorSeries,
    local_day,
    make_rng,
    series,
    time_grid,
)
from simulators.soil import (
    ALLUVIAL_LOAM,
    ANDOSOL,
    PADDY_CLAY,
    Soil,
    daily_mean,
    hourly_to,
    leaf_wetness,
    soil_temperature,
    water_balance,
)
from simulators.stations import weather_station
from simulators.truth import Crop, SeasonOutcome
from simulators.weather import Weather, simulate_weather

SOIL_MOISTURE_MAX = 60.0


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field: where it is, what grows on it, its soil and planting days of year."""

    site: str
    name: str
    crop: Crop
    climate: Climate
    soil: Soil
    plantings: tuple[int, ...] = field(default=())


@dataclass(frozen=True, slots=True, eq=False)
class FarmResult:
    """Sensor series, season truth and the underlying weather and soil of one field."""

    spec: FieldSpec
    series: list[SensorSeries]
    seasons: list[SeasonOutcome]
    weather: Weather
    soil_moisture_daily: FloatArray
    ks_daily: FloatArray  # water-stress factor: 1 unstressed, 0 wilting


AZUMINO = NAGANO_CITY.at_elevation("Azumino", 550.0, latitude=36.30, longitude=137.90)
SUZAKA = NAGANO_CITY.at_elevation("Suzaka", 380.0, latitude=36.65, longitude=138.31)

# Kawakami lettuce is transplanted from late April to July and cut 45–70 days later.
DEFAULT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("kawakami-01", "lettuce-a", Crop.LETTUCE, KAWAKAMI, ANDOSOL, (125, 185)),
    FieldSpec("kawakami-02", "lettuce-b", Crop.LETTUCE, KAWAKAMI, ANDOSOL, (135, 200)),
    FieldSpec("kawakami-03", "lettuce-c", Crop.LETTUCE, KAWAKAMI, ANDOSOL, (145, 210)),
    FieldSpec("kawakami-04", "lettuce-d", Crop.LETTUCE, KAWAKAMI, ANDOSOL, (120, 175)),
    FieldSpec("suzaka-01", "apple-a", Crop.APPLE, SUZAKA, ALLUVIAL_LOAM),
    FieldSpec("suzaka-02", "apple-b", Crop.APPLE, SUZAKA, ALLUVIAL_LOAM),
    FieldSpec("nagano-01", "apple-c", Crop.APPLE, NAGANO_CITY, ALLUVIAL_LOAM),
    FieldSpec("azumino-01", "rice-a", Crop.RICE, AZUMINO, PADDY_CLAY, (138,)),
    FieldSpec("azumino-02", "rice-b", Crop.RICE, AZUMINO, PADDY_CLAY, (142,)),
    FieldSpec("nagano-02", "rice-c", Crop.RICE, NAGANO_CITY, PADDY_CLAY, (140,)),
)


def simulate_farm(
    spec: FieldSpec,
    start_ms: int,
    duration_ms: int,
    step_ms: int,
    seed: Seed,
    *,
    weather: Weather | None = None,
) -> FarmResult:
    """Simulate one field over [start, start+duration) sampled every `step_ms`."""
    rng = make_rng(seed)
    if weather is None:
        weather = simulate_weather(spec.climate, start_ms, duration_ms, rng)
    if not weather.covers(start_ms, start_ms + duration_ms):
        raise ValueError("the weather does not cover the simulated window")
    daily, hourly = weather.daily, weather.hourly
    n_days = len(daily.day)
    seasons = crops.phenology(spec.crop, daily, spec.plantings)
    kc = crops.crop_coefficient(spec.crop, n_days, seasons)
    # Snow cover shuts transpiration down; ET follows the sun through the day.
    kc = np.where(daily.snow_depth_cm > 1.0, 0.05, kc)
    sun = hourly.solar_radiation.reshape(n_days, 24)
    day_sun = sun.sum(axis=1, keepdims=True)
    shape = np.where(day_sun > 0, sun / np.maximum(day_sun, 1e-9), 1.0 / 24.0)
    demand = (shape * (daily.et0_mm * kc)[:, None]).ravel()
    paddy = crops.flooded(n_days, seasons) if spec.crop is Crop.RICE else None
    theta, ks = water_balance(
        spec.soil,
        hourly.rain_mm + hourly.melt_mm,
        demand,
        spec.soil.field_capacity,
        None if paddy is None else np.repeat(paddy, 24),
    )
    ks_daily = daily_mean(ks)
    first_day, last_day = int(local_day(start_ms)), int(local_day(start_ms + duration_ms - 1))
    outcomes = [
        crops.outcome(
            spec.site, spec.name, spec.crop, daily=daily, ks_daily=ks_daily, season=s, rng=rng
        )
        for s in seasons
        if first_day <= int(daily.day[s.maturity]) <= last_day
    ]
    ts = time_grid(start_ms, duration_ms, step_ms)
    n = len(ts)
    out = weather_station(weather, ts, step_ms, rng)
    moisture = hourly_to(ts, weather, theta) + 0.4 * rng.standard_normal(n)
    soil_t = hourly_to(ts, weather, soil_temperature(weather)) + 0.1 * rng.standard_normal(n)
    wetness = hourly_to(ts, weather, leaf_wetness(weather))
    out += [
        series(
            "soil_moisture",
            SensorKind.SOIL_MOISTURE,
            ts,
            np.clip(moisture, 0.0, SOIL_MOISTURE_MAX),
            1,
        ),
        series("soil_temperature", SensorKind.SOIL_TEMPERATURE, ts, soil_t, 2),
        series("leaf_wetness", SensorKind.LEAF_WETNESS, ts, np.clip(wetness, 0.0, 100.0), 0),
    ]
    return FarmResult(spec, out, outcomes, weather, daily_mean(theta), ks_daily)
