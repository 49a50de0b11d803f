"""Split-conformal calibration of the stock-out forecast's interval.

The Monte Carlo interval of `forecast_stockout` is only as good as its spread model. Split
conformal prediction (Vovk, Gammerman & Shafer 2005, *Algorithmic Learning in a Random World*;
the quantile-regression form of Romano, Patterson & Candès 2019, "Conformalized Quantile
Regression") corrects it from a calibration set of (interval, outcome) pairs that the model was
not fitted on: the score of a case is how far the outcome fell outside its interval, in log hours
so that one margin serves forecasts of a few hours and of weeks alike, and the interval is
widened (or, when it over-covers, narrowed) by the finite-sample quantile of those scores.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from models.conformal import CalibrationError, conformal_quantile

__all__ = ["CalibrationError", "conformity_scores", "fit_margin", "widen"]


def conformity_scores(
    low: npt.ArrayLike, high: npt.ArrayLike, outcome: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """How far each outcome lies outside its interval in log(1 + hours); negative inside."""
    lo = np.log1p(np.maximum(np.asarray(low, np.float64), 0.0))
    hi = np.log1p(np.maximum(np.asarray(high, np.float64), 0.0))
    y = np.log1p(np.maximum(np.asarray(outcome, np.float64), 0.0))
    return np.maximum(lo - y, y - hi)


def fit_margin(
    low: npt.ArrayLike, high: npt.ArrayLike, outcome: npt.ArrayLike, coverage: float = 0.8
) -> float:
    """The log margin whose widened intervals cover `coverage` of exchangeable new cases."""
    # The ceil((n + 1) coverage)-th smallest score: the split-conformal guarantee.
    return conformal_quantile(conformity_scores(low, high, outcome), coverage, strict=True)


def widen(low: float, high: float, margin: float) -> tuple[float, float]:
    """The interval moved outwards (inwards for a negative margin) by `margin` log hours."""
    lo = math.expm1(math.log1p(max(low, 0.0)) - margin)
    hi = math.expm1(math.log1p(max(high, 0.0)) + margin)
    if lo > hi:  # a narrowing margin never turns an interval inside out
        lo = hi = math.expm1(0.5 * (math.log1p(max(low, 0.0)) + math.log1p(max(high, 0.0))))
    return max(lo, 0.0), hi
