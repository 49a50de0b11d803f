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

from models.errors import ModelError


class CalibrationError(ModelError, ValueError):
    """Calibration cases that cannot give a margin."""


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
    scores = np.sort(conformity_scores(low, high, outcome))
    n = len(scores)
    if n == 0 or not 0.0 < coverage < 1.0:
        raise CalibrationError("need calibration cases and a coverage between 0 and 1")
    # The ceil((n + 1) coverage)-th smallest score: the split-conformal guarantee.
    rank = math.ceil((n + 1) * coverage)
    if rank > n:
        raise CalibrationError(f"{n} calibration cases are too few for {coverage:.0%} coverage")
    return float(scores[rank - 1])


def widen(low: float, high: float, margin: float) -> tuple[float, float]:
    """The interval moved outwards (inwards for a negative margin) by `margin` log hours."""
    lo = math.expm1(math.log1p(max(low, 0.0)) - margin)
    hi = math.expm1(math.log1p(max(high, 0.0)) + margin)
    if lo > hi:  # a narrowing margin never turns an interval inside out
        lo = hi = math.expm1(0.5 * (math.log1p(max(low, 0.0)) + math.log1p(max(high, 0.0))))
    return max(lo, 0.0), hi
