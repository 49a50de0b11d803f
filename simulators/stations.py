"""Weather-mast readings from a simulated `Weather`: the sensors every farm and forest site has."""

from __future__ import annotations

import numpy as np

from edge.protocol import SensorKind
from simulators.common import IntArray, Seed, SensorSeries, make_rng, series
from simulators.weather import Weather


def weather_station(
    weather: Weather, ts_ms: IntArray, step_ms: int, seed: Seed, prefix: str = ""
) -> list[SensorSeries]:
    """Readings of a weather mast at `ts_ms`, with sensor noise and a 0.2 mm tipping bucket."""
    rng = make_rng(seed)
    ts = np.asarray(ts_ms, dtype=np.int64)
    n = len(ts)
    temp = weather.air_temperature(ts)
    rh = weather.relative_humidity(ts, temp)
    speed, direction = weather.wind(ts)
    # A 10-minute mean wanders around the hourly mean; it is not a gust.
    gust = np.minimum(speed * rng.gamma(20.0, 1.0 / 20.0, n), 35.0)
    ghi = weather.solar_radiation(ts) * (1.0 + 0.02 * rng.standard_normal(n))
    return [
        series(
            f"{prefix}air_temperature",
            SensorKind.AIR_TEMPERATURE,
            ts,
            temp + 0.1 * rng.standard_normal(n),
            2,
        ),
        series(
            f"{prefix}relative_humidity",
            SensorKind.RELATIVE_HUMIDITY,
            ts,
            np.clip(rh + 1.0 * rng.standard_normal(n), 0.0, 100.0),
            1,
        ),
        series(f"{prefix}solar_radiation", SensorKind.SOLAR_RADIATION, ts, np.maximum(ghi, 0.0), 1),
        series(f"{prefix}wind_speed", SensorKind.WIND_SPEED, ts, np.maximum(gust, 0.0), 1),
        series(
            f"{prefix}wind_direction",
            SensorKind.WIND_DIRECTION,
            ts,
            (direction + 8.0 * rng.standard_normal(n)) % 360.0,
            0,
        ),
        series(f"{prefix}rainfall", SensorKind.RAINFALL, ts, weather.rain_since(ts, step_ms), 1),
    ]
