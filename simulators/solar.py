"""Solar geometry, clear-sky irradiance, reference evapotranspiration and vapour pressure."""

from __future__ import annotations

import numpy as np

from core.time import JST_OFFSET_MS, MS_PER_DAY, MS_PER_HOUR
from simulators.common import FloatArray, IntArray, day_of_year, local_day

# JST clocks follow the 135° E meridian; solar time at a site is offset by its longitude.
JST_MERIDIAN_DEG = 135.0
SOLAR_CONSTANT_MJ_MIN = 0.0820


def declination(doy: IntArray | FloatArray) -> FloatArray:
    """Solar declination (rad) by day of year (FAO-56 eq. 24)."""
    return 0.409 * np.sin(2.0 * np.pi * np.asarray(doy) / 365.0 - 1.39)


def equation_of_time_h(doy: IntArray | FloatArray) -> FloatArray:
    """Equation of time (hours), apparent minus mean solar time."""
    b = 2.0 * np.pi * (np.asarray(doy) - 81.0) / 364.0
    return (9.87 * np.sin(2.0 * b) - 7.53 * np.cos(b) - 1.5 * np.sin(b)) / 60.0


def cos_zenith(ts_ms: IntArray, latitude: float, longitude: float) -> FloatArray:
    """Cosine of the solar zenith angle at each timestamp (negative at night)."""
    ts = np.asarray(ts_ms, dtype=np.int64)
    doy = day_of_year(local_day(ts))
    clock_h = ((ts + JST_OFFSET_MS) % MS_PER_DAY) / MS_PER_HOUR
    solar_h = clock_h + (longitude - JST_MERIDIAN_DEG) / 15.0 + equation_of_time_h(doy)
    omega = np.radians(15.0 * (solar_h - 12.0))
    phi = np.radians(latitude)
    dec = declination(doy)
    return np.sin(phi) * np.sin(dec) + np.cos(phi) * np.cos(dec) * np.cos(omega)


def clear_sky_ghi(cosz: FloatArray, elevation_m: float) -> FloatArray:
    """Clear-sky global horizontal irradiance (W/m²), Haurwitz model with a small altitude gain."""
    mu = np.maximum(np.asarray(cosz), 0.0)
    safe = np.where(mu > 0.01, mu, 1.0)
    ghi = 1098.0 * mu * np.exp(-0.057 / safe) * (1.0 + 3e-5 * elevation_m)
    return np.where(mu > 0.01, ghi, 0.0)


def sunrise_clock_h(doy: IntArray, latitude: float, longitude: float) -> FloatArray:
    """Local JST clock hour of sunrise by day of year."""
    phi = np.radians(latitude)
    omega_s = np.arccos(np.clip(-np.tan(phi) * np.tan(declination(doy)), -1.0, 1.0))
    solar = 12.0 - np.degrees(omega_s) / 15.0
    return solar - (longitude - JST_MERIDIAN_DEG) / 15.0 - equation_of_time_h(doy)


def extraterrestrial_mj(doy: IntArray, latitude: float) -> FloatArray:
    """Daily extraterrestrial radiation Ra (MJ/m²/day), FAO-56 eq. 21."""
    phi = np.radians(latitude)
    dec = declination(doy)
    dr = 1.0 + 0.033 * np.cos(2.0 * np.pi * np.asarray(doy) / 365.0)
    omega_s = np.arccos(np.clip(-np.tan(phi) * np.tan(dec), -1.0, 1.0))
    return (
        24.0
        * 60.0
        / np.pi
        * SOLAR_CONSTANT_MJ_MIN
        * dr
        * (omega_s * np.sin(phi) * np.sin(dec) + np.cos(phi) * np.cos(dec) * np.sin(omega_s))
    )


def hargreaves_et0(tmin: FloatArray, tmax: FloatArray, ra_mj: FloatArray) -> FloatArray:
    """Reference evapotranspiration (mm/day), Hargreaves–Samani (FAO-56 eq. 52)."""
    tmean = (tmin + tmax) / 2.0
    spread = np.sqrt(np.maximum(tmax - tmin, 0.0))
    return np.maximum(0.0023 * (tmean + 17.8) * spread * 0.408 * ra_mj, 0.0)


def saturation_vapour_kpa(t_c: FloatArray) -> FloatArray:
    """Saturation vapour pressure (kPa) over water at temperature `t_c` (Tetens)."""
    t = np.asarray(t_c, dtype=np.float64)
    return 0.6108 * np.exp(17.27 * t / (t + 237.3))
