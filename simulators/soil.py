"""Hourly soil physics of farms and forests: bucket water balance, soil temperature, wetness."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.common import FloatArray, IntArray
from simulators.weather import Weather


@dataclass(frozen=True, slots=True)
class Soil:
    """Water-holding properties of the root zone, volumetric contents in % vol."""

    depth_mm: float
    wilting: float
    field_capacity: float
    saturation: float
    drainage_per_h: float = 0.06


# Volcanic-ash andosols (kuroboku) dominate the Yatsugatake and Asama highlands: porous, retentive.
ANDOSOL = Soil(depth_mm=300.0, wilting=22.0, field_capacity=42.0, saturation=56.0)
ALLUVIAL_LOAM = Soil(depth_mm=300.0, wilting=14.0, field_capacity=32.0, saturation=46.0)
PADDY_CLAY = Soil(
    depth_mm=250.0, wilting=20.0, field_capacity=40.0, saturation=52.0, drainage_per_h=0.01
)
FOREST_BROWN = Soil(depth_mm=500.0, wilting=16.0, field_capacity=36.0, saturation=52.0)


def water_balance(
    soil: Soil,
    inflow_mm: FloatArray,
    demand_mm: FloatArray,
    theta0: float,
    flooded: np.ndarray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Hourly volumetric water content (% vol) and water-stress factor Ks (0..1) of a bucket."""
    n = len(inflow_mm)
    scale = soil.depth_mm / 100.0
    s_sat, s_fc, s_wp = soil.saturation * scale, soil.field_capacity * scale, soil.wilting * scale
    # Bare soil keeps drying below wilting point by evaporation, but not to oven-dry.
    s_min = 0.6 * s_wp
    readily = 0.5 * (s_fc - s_wp)
    flood = np.zeros(n, dtype=bool) if flooded is None else np.asarray(flooded, dtype=bool)
    theta = np.empty(n)
    ks = np.empty(n)
    store = theta0 * scale
    for i, (inflow, demand, wet) in enumerate(
        zip(inflow_mm.tolist(), demand_mm.tolist(), flood.tolist(), strict=True)
    ):
        if wet:
            # A flooded paddy stays saturated: irrigation makes up every loss.
            store = s_sat
            k = 1.0
        else:
            store = min(store + inflow, s_sat)
            if store > s_fc:
                store -= soil.drainage_per_h * (store - s_fc)
            k = min(max((store - s_wp) / readily, 0.0), 1.0)
            store = max(store - demand * max(k, 0.15), s_min)
        theta[i] = store / scale
        ks[i] = k
    return theta, ks


def soil_temperature(
    weather: Weather, shading: float = 0.0, tau_h: float = 6.0, depth_lag_days: int = 20
) -> FloatArray:
    """Hourly temperature at ~10 cm: air damped and lagged, sun-warmed, insulated by snow."""
    hourly = weather.hourly
    air = hourly.air_temperature
    # A deep-soil pull toward the past month's mean keeps autumn soils warmer than the air.
    window = 24 * depth_lag_days
    cum = np.concatenate([[0.0], np.cumsum(air)])
    idx = np.arange(len(air))
    lo = np.maximum(idx - window, 0)
    deep = (cum[idx + 1] - cum[lo]) / (idx + 1 - lo) + 1.0
    forcing = 0.6 * air + 0.4 * deep + 0.004 * (1.0 - shading) * hourly.solar_radiation
    snow = hourly.snow_swe_mm > 5.0
    forcing = np.where(snow, np.maximum(0.3, 0.2 * deep), forcing)
    alpha = 1.0 / tau_h
    out = np.empty(len(air))
    state = float(deep[0])
    for i, f in enumerate(forcing.tolist()):
        state += alpha * (f - state)
        out[i] = state
    return out


def leaf_wetness(weather: Weather) -> FloatArray:
    """Hourly share (%) of a leaf-wetness sensor that is wet: rain, dew, then drying."""
    hourly = weather.hourly
    rain = hourly.rain_mm + hourly.snow_mm
    dew = np.clip((hourly.relative_humidity - 90.0) / 8.0, 0.0, 1.0) * (
        hourly.solar_radiation < 60.0
    )
    source = np.maximum(np.where(rain > 0.1, 100.0, 0.0), 100.0 * dew)
    decay = np.exp(-(0.25 + hourly.solar_radiation / 250.0 + 0.1 * hourly.wind_speed))
    out = np.empty(len(rain))
    state = 0.0
    for i, (s, k) in enumerate(zip(source.tolist(), decay.tolist(), strict=True)):
        state = max(s, state * k)
        out[i] = state
    return out


def hourly_to(ts_ms: IntArray, weather: Weather, values: FloatArray) -> FloatArray:
    """Interpolate an hourly series (values at mid-hour) to sensor timestamps."""
    mid = weather.hourly.t_ms + 1_800_000
    return np.interp(np.asarray(ts_ms, dtype=np.int64), mid, values)


def daily_mean(values: FloatArray) -> FloatArray:
    """Daily means of an hourly series that starts at local midnight."""
    return values.reshape(-1, 24).mean(axis=1)
