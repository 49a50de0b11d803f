"""A simulated orchard weather mast (Suzaka apple site) as the frost model reads it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from core.time import JST, MS_PER_HOUR
from models.frost.hourly import HourlyWeather, from_readings
from simulators.farm import SUZAKA
from simulators.stations import weather_station
from simulators.weather import simulate_weather

TRAIN_SEED, HELD_OUT_SEED = 101, 202  # the held-out seed was not looked at while developing


def simulated_site(seed: int, year: int = 2025) -> tuple[list[dt.datetime], dict[str, np.ndarray]]:
    """Top-of-hour readings of one simulated year: local times and the mast's series."""
    start = dt.datetime(year, 1, 1, tzinfo=JST)
    start_ms = int(start.timestamp() * 1000)
    hours = (dt.datetime(year + 1, 1, 1, tzinfo=JST) - start) // dt.timedelta(hours=1)
    weather = simulate_weather(SUZAKA, start_ms, hours * MS_PER_HOUR, seed)
    ts = start_ms + MS_PER_HOUR * np.arange(hours, dtype=np.int64)
    readings = {s.sensor: s.values for s in weather_station(weather, ts, MS_PER_HOUR, seed + 1)}
    times = [(start + dt.timedelta(hours=int(i))).replace(tzinfo=None) for i in range(hours)]
    names = ("air_temperature", "relative_humidity", "wind_speed", "solar_radiation")
    return times, {n: np.asarray(readings[n], dtype=np.float64) for n in names}


def simulated_weather(seed: int, year: int = 2025) -> HourlyWeather:
    """One simulated year on the frost model's hourly grid (dew point from humidity)."""
    times, values = simulated_site(seed, year)
    return from_readings(times, {k: list(v) for k, v in values.items()}, tuple(values))


@pytest.fixture(scope="session")
def train_site() -> HourlyWeather:
    """The training seed's year."""
    return simulated_weather(TRAIN_SEED)


@pytest.fixture(scope="session")
def held_out_site() -> HourlyWeather:
    """The held-out seed's year."""
    return simulated_weather(HELD_OUT_SEED)
