"""Growing degree days (積算温度) per crop, from daily min/max or hourly temperatures.

Three daily methods, after Zalom et al. (1983), "Degree-days: the calculation and use of heat
units in pest management", University of California DANR Leaflet 21373:

- ``average``: the mean (tmin + tmax) / 2 is capped at the upper threshold (horizontal
  cut-off), then the base is subtracted and negatives become 0.
- ``single_sine``: the day is one sine wave from tmin to tmax (Baskerville & Emin 1969,
  Ecology 50:514-517); the area between base and upper threshold under it.
- ``single_triangle``: the same with a symmetric triangle (Lindsey & Newman 1956).

Both curve methods use a horizontal cut-off: hours above the upper threshold count as the
threshold. Hourly temperatures give each hour's (min(T, upper) - base)+ / 24, summed per day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

HOURS_PER_DAY = 24


@dataclass(frozen=True, slots=True)
class CropThermal:
    """A crop's developmental thresholds in °C and where they were published."""

    crop: str
    base_c: float
    upper_c: float | None
    source: str

    def __post_init__(self) -> None:
        """Refuse an upper threshold at or below the base (the area would be empty)."""
        if self.upper_c is not None and self.upper_c <= self.base_c:
            raise ValueError(f"{self.crop}: upper {self.upper_c} °C must exceed base {self.base_c}")


def _f_to_c(value_f: float) -> float:
    """Degrees Fahrenheit to Celsius."""
    return (value_f - 32.0) * 5.0 / 9.0


# The platform's crops. Each number's source is in `source` and in docs/field.md.
CROP_THERMAL: dict[str, CropThermal] = {
    # Cornell University / NRCC Climate Smart Farming "Apple Stage / Freeze Damage Probability"
    # tool: GDD thresholds 43 °F base, 86 °F upper, from which its bud-stage table is built
    # (stages.py); 43 °F is also the base UMass Extension uses for McIntosh green tip
    # (Clements 2019, "Predicting green tip?").
    "apple": CropThermal(
        "apple",
        base_c=_f_to_c(43.0),
        upper_c=_f_to_c(86.0),
        source="Cornell NRCC Climate Smart Farming apple stage tool (43/86 °F); Clements 2019",
    ),
    # Amerine & Winkler (1944), "Composition and quality of musts and wines of California
    # grapes", Hilgardia 15:493-675: degree days above 10 °C (50 °F), no upper cut-off.
    "grape": CropThermal(
        "grape", base_c=10.0, upper_c=None, source="Amerine & Winkler 1944, Hilgardia 15:493"
    ),
    # Base 10 °C (50 °F) as used for rice in the northeastern US variety trials (Cornell/UVM
    # rice project, "Growing Degree Days"); the 30 °C cap is the widely used upper threshold,
    # not confirmed here from a primary rice source (see docs/field.md).
    "rice": CropThermal(
        "rice",
        base_c=10.0,
        upper_c=30.0,
        source="base 10 °C: NE-US rice GDD (50 °F); upper 30 °C: widely used, unconfirmed",
    ),
    # Wurr & Fellows (J. Agric. Sci.) express crisp-lettuce leaf production and maturity on a
    # day-degree scale above 0 °C (e.g. Wurr, Fellows & Suckling 1988, "Crop continuity and
    # prediction of maturity in the crisp lettuce variety Saladin").
    "lettuce": CropThermal(
        "lettuce", base_c=0.0, upper_c=None, source="Wurr, Fellows & Suckling 1988 (>0 °C)"
    ),
}


def thermal_for(crop: str) -> CropThermal:
    """The thresholds of a known crop; ValueError names the known ones otherwise."""
    try:
        return CROP_THERMAL[crop.strip().lower()]
    except KeyError:
        known = ", ".join(sorted(CROP_THERMAL))
        raise ValueError(f"unknown crop {crop!r}; known: {known}") from None


class GddMethod(StrEnum):
    """How a day's degree days are computed from its minimum and maximum."""

    AVERAGE = "average"
    SINGLE_SINE = "single_sine"
    SINGLE_TRIANGLE = "single_triangle"


@dataclass(frozen=True, slots=True)
class GddSeries:
    """Daily degree days (°C·day) and their running sum from the first day."""

    daily: FloatArray
    cumulative: FloatArray


def _as_temps(values: npt.ArrayLike, name: str) -> FloatArray:
    """A 1-D float array of finite temperatures, or ValueError."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has missing or non-finite values; fill gaps first")
    return arr


def _excess_sine(tmin: FloatArray, tmax: FloatArray, x: float) -> FloatArray:
    """Mean over a sine day of max(T - x, 0)."""
    mean = (tmax + tmin) / 2.0
    amp = (tmax - tmin) / 2.0
    out = np.where(x <= tmin, mean - x, 0.0)
    mid = (x > tmin) & (x < tmax)
    if np.any(mid):
        theta = np.arcsin((x - mean[mid]) / amp[mid])
        out[mid] = ((mean[mid] - x) * (math.pi / 2.0 - theta) + amp[mid] * np.cos(theta)) / math.pi
    return out


def _excess_triangle(tmin: FloatArray, tmax: FloatArray, x: float) -> FloatArray:
    """Mean over a symmetric-triangle day of max(T - x, 0)."""
    out = np.where(x <= tmin, (tmax + tmin) / 2.0 - x, 0.0)
    mid = (x > tmin) & (x < tmax)
    if np.any(mid):
        out[mid] = (tmax[mid] - x) ** 2 / (2.0 * (tmax[mid] - tmin[mid]))
    return out


def daily_gdd(
    tmin: npt.ArrayLike,
    tmax: npt.ArrayLike,
    *,
    thermal: CropThermal,
    method: GddMethod = GddMethod.AVERAGE,
) -> FloatArray:
    """Each day's degree days above the crop's base, with its upper cut-off if it has one."""
    lo = _as_temps(tmin, "tmin")
    hi = _as_temps(tmax, "tmax")
    if lo.shape != hi.shape:
        raise ValueError("tmin and tmax must have the same length")
    if np.any(lo > hi):
        raise ValueError("tmin exceeds tmax on some day")
    base, upper = thermal.base_c, thermal.upper_c
    if method is GddMethod.AVERAGE:
        mean = (lo + hi) / 2.0
        capped = mean if upper is None else np.minimum(mean, upper)
        return np.maximum(capped - base, 0.0)
    excess = _excess_sine if method is GddMethod.SINGLE_SINE else _excess_triangle
    # min(T, U) - L clipped at 0 equals max(T - L, 0) - max(T - U, 0) for U > L.
    dd = excess(lo, hi, base)
    if upper is not None:
        dd = dd - excess(lo, hi, upper)
    return np.maximum(dd, 0.0)


def hourly_gdd(temps: npt.ArrayLike, *, thermal: CropThermal) -> FloatArray:
    """Each whole day's degree days from its 24 hourly temperatures (length a multiple of 24)."""
    arr = _as_temps(temps, "temps")
    if arr.size % HOURS_PER_DAY:
        raise ValueError(f"hourly series length {arr.size} is not a whole number of days")
    capped = arr if thermal.upper_c is None else np.minimum(arr, thermal.upper_c)
    per_hour = np.maximum(capped - thermal.base_c, 0.0) / HOURS_PER_DAY
    return per_hour.reshape(-1, HOURS_PER_DAY).sum(axis=1)


def accumulate(daily: npt.ArrayLike) -> GddSeries:
    """A daily degree-day series and its running sum."""
    arr = _as_temps(daily, "daily")
    return GddSeries(daily=arr, cumulative=np.cumsum(arr))


def gdd_series(
    tmin: npt.ArrayLike,
    tmax: npt.ArrayLike,
    *,
    thermal: CropThermal,
    method: GddMethod = GddMethod.AVERAGE,
) -> GddSeries:
    """Daily degree days from min/max temperatures and their sum since the first day."""
    return accumulate(daily_gdd(tmin, tmax, thermal=thermal, method=method))


def hourly_gdd_series(temps: npt.ArrayLike, *, thermal: CropThermal) -> GddSeries:
    """Daily degree days from whole days of hourly temperatures and their running sum."""
    return accumulate(hourly_gdd(temps, thermal=thermal))
