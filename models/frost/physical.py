"""The fallback: Craddock & Pritchard's night-minimum formula from midday temperature and dew point.

Tmin = 0.316 T + 0.548 Td - 1.24 + K, with T and Td the screen temperature and dew point at
midday and K a correction that runs from about -2.2 °C (near calm, clear night) to +2 or +3 °C
(windy, mostly cloudy). Source: Craddock, J. M. and Pritchard, D. L. (1951), Met Office, for
inland stations in England; coefficients and the range of K as given in the uk.sci.weather
FAQ "Temperature forecasting: night minima" (weatherfaqs.org.uk); the original paper was not
consulted. docs/frost.md says how K and the interval are set here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.frost.hourly import FloatArray

CP_T = 0.316
CP_TD = 0.548
CP_CONST = -1.24
# Published range of K (calm/clear to windy/cloudy): the fixed interval when too few nights.
K_LOW = -2.2
K_HIGH = 3.0
MIN_RESIDUAL_NIGHTS = 10
MIDDAY_HOUR = 12


def craddock_pritchard(t_midday: FloatArray, td_midday: FloatArray) -> FloatArray:
    """The formula with K = 0 (NaN where either input is missing)."""
    t = np.asarray(t_midday, dtype=np.float64)
    td = np.asarray(td_midday, dtype=np.float64)
    return CP_T * t + CP_TD * td + CP_CONST


@dataclass(frozen=True, slots=True)
class PhysicalRule:
    """The formula with a site's K (median residual) and its 10-90 % residual spread."""

    k: float = 0.0
    low: float = K_LOW
    high: float = K_HIGH
    nights: int = 0

    def predict(
        self, t_midday: FloatArray, td_midday: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Forecast, low and high bound of the night minimum."""
        base = craddock_pritchard(t_midday, td_midday)
        return base + self.k, base + self.low, base + self.high


def fit_rule(
    t_midday: FloatArray,
    td_midday: FloatArray,
    observed: FloatArray,
    *,
    days: npt.NDArray[np.int64],
    coverage: float,
) -> PhysicalRule:
    """K and the interval from the nights that exist; the published defaults with fewer than 10.

    With K the median residual, the interval's quantiles bracket it, so low <= forecast <= high.
    """
    residual = np.asarray(observed, dtype=np.float64) - craddock_pritchard(t_midday, td_midday)
    ok = np.isfinite(residual)
    nights = len(np.unique(np.asarray(days)[ok]))
    residual = residual[ok]
    if nights < MIN_RESIDUAL_NIGHTS:
        return PhysicalRule(nights=nights)
    tail = (1.0 - coverage) / 2.0
    low, k, high = np.quantile(residual, [tail, 0.5, 1.0 - tail])
    return PhysicalRule(k=float(k), low=float(low), high=float(high), nights=nights)
