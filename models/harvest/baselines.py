"""Baselines the harvest model must beat: a 10 °C growing-degree-day rule and climatology.

GDD: daily max((tmin + tmax) / 2 - 10, 0), summed from planting; the crop matures at the mean
sum-to-maturity of its training seasons, with the analog-year mean (climatology) standing in
for the days after the as-of date. Climatology: the crop's mean days to maturity and mean yield.
"""

from __future__ import annotations

import numpy as np

from models.harvest.types import FloatArray

GDD_BASE_C = 10.0


def daily_gdd(tmin: FloatArray, tmax: FloatArray) -> FloatArray:
    """Growing-degree days above 10 °C from the average of tmin and tmax."""
    return np.maximum(0.5 * (tmin + tmax) - GDD_BASE_C, 0.0)


def gdd_threshold(tmin: FloatArray, tmax: FloatArray, days: np.ndarray) -> float:
    """Mean GDD sum from planting to maturity over training seasons (rows from planting)."""
    cum = np.cumsum(daily_gdd(tmin, tmax), axis=1)
    return float(np.mean(cum[np.arange(len(cum)), np.asarray(days, dtype=np.int64)]))


def gdd_maturity_index(tmin: FloatArray, tmax: FloatArray, threshold: float) -> float:
    """Days from planting until the GDD sum of one path reaches `threshold` (path length if not)."""
    cum = np.cumsum(daily_gdd(tmin, tmax))
    idx = int(np.searchsorted(cum, threshold))
    return float(min(idx, len(cum)))
