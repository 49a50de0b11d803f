"""Baselines the harvest model must beat: a GDD rule fitted per crop, and climatology.

GDD: daily max((tmin + tmax) / 2 - base, 0), summed from planting (the simple average method,
McMaster & Wilhelm 1997, "Growing degree-days: one equation, two interpretations",
Agricultural and Forest Meteorology 87: 291-300). The base
temperature is searched per crop over 0-12 °C on the training seasons and the target thermal
time is the median sum to maturity at that base, so the rule is as good as a GDD rule can be on
the seasons it saw, not a fixed 10 °C for every crop. The analog-year mean (climatology) stands
in for the days after the as-of date. Climatology: the crop's mean days to maturity and yield.
"""

from __future__ import annotations

import numpy as np

from models.harvest.types import FloatArray

# Base shown with a field's listed growing-degree days (the 10 °C of maize and rice tables).
GDD_BASE_C = 10.0
# Candidate bases 0-12 °C span the usual crop bases: 0 °C for wheat and barley and 10 °C for
# maize (McMaster & Wilhelm 1997, above); WOFOST 7.2's demo parameters use 0 °C for spring
# barley and 2 °C for potato (PCSE demo database, DTSMTB).
GDD_BASES_C = tuple(float(b) for b in range(13))


def daily_gdd(tmin: FloatArray, tmax: FloatArray, base: float = GDD_BASE_C) -> FloatArray:
    """Growing-degree days above `base` °C from the average of tmin and tmax."""
    return np.maximum(0.5 * (tmin + tmax) - base, 0.0)


def gdd_threshold(
    tmin: FloatArray, tmax: FloatArray, days: np.ndarray, base: float = GDD_BASE_C
) -> float:
    """Median GDD sum from planting to maturity over training seasons (rows from planting)."""
    cum = np.cumsum(np.nan_to_num(daily_gdd(tmin, tmax, base)), axis=1)
    return float(np.median(cum[np.arange(len(cum)), np.asarray(days, dtype=np.int64)]))


def gdd_maturity_index(
    tmin: FloatArray, tmax: FloatArray, threshold: float, base: float = GDD_BASE_C
) -> float:
    """Days from planting until the GDD sum of one path reaches `threshold` (path length if not)."""
    cum = np.cumsum(np.nan_to_num(daily_gdd(tmin, tmax, base)))
    idx = int(np.searchsorted(cum, threshold))
    return float(min(idx, len(cum)))


def fit_gdd_rule(tmin: FloatArray, tmax: FloatArray, days: np.ndarray) -> tuple[float, float]:
    """Base and target of the GDD rule with the least maturity MAE on the training seasons."""
    best: tuple[float, float, float] | None = None
    for base in GDD_BASES_C:
        target = gdd_threshold(tmin, tmax, days, base)
        if not target > 0.0:
            continue  # no heat above this base: the rule cannot time maturity
        got = np.array(
            [gdd_maturity_index(lo, hi, target, base) for lo, hi in zip(tmin, tmax, strict=True)]
        )
        mae = float(np.mean(np.abs(got - np.asarray(days, dtype=np.float64))))
        if best is None or mae < best[0]:
            best = (mae, base, target)
    if best is None:
        return GDD_BASE_C, float("nan")
    return best[1], best[2]
