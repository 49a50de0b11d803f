"""Winter chill (低温要求 / チルユニット) from hourly temperatures: three models.

- Chilling hours: hours with 0 <= T <= 7.2 °C (45 °F), the simple baseline (Weinberger 1950,
  Proc. Amer. Soc. Hort. Sci. 56:122-128; bounds as in chillR's `Chilling_Hours`).
- Utah model chill units (Richardson, Seeley & Walker 1974, HortScience 9:331-332).
- Dynamic model chill portions (Fishman, Erez & Couvillon 1987, J. Theor. Biol.
  126:309-321 and 126:473-483; Erez et al. 1990, Acta Hort. 276:165-174), with the
  constants and the hourly recursion of Luedeling's chillR `Dynamic_Model`.

Every function returns the per-hour amounts; `np.cumsum` of them is the season's running sum.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# Chilling hours band, °C (0-45 °F).
CHILL_HOURS_LOW_C = 0.0
CHILL_HOURS_HIGH_C = 7.2

# Utah model: (upper bound of the band in °C, inclusive; weight). A temperature T falls in
# the first band whose bound is >= T; above the last bound the weight is -1. Bands and
# weights from Richardson et al. (1974) as coded in chillR `Utah_Model`:
# <=1.4: 0, (1.4, 2.4]: 0.5, (2.4, 9.1]: 1, (9.1, 12.4]: 0.5, (12.4, 15.9]: 0,
# (15.9, 18]: -0.5, >18: -1.
UTAH_BANDS: tuple[tuple[float, float], ...] = (
    (1.4, 0.0),
    (2.4, 0.5),
    (9.1, 1.0),
    (12.4, 0.5),
    (15.9, 0.0),
    (18.0, -0.5),
)
UTAH_ABOVE = -1.0

# Dynamic model constants (Fishman et al. 1987; values of chillR `Dynamic_Model`).
E0 = 4153.5  # K, activation energy of forming the intermediate product
E1 = 12888.8  # K, activation energy of destroying it
A0 = 139500.0  # h^-1, formation rate constant
A1 = 2.567e18  # h^-1, destruction rate constant
SLP = 1.6  # slope of the sigmoid that fixes the intermediate into a portion
TETMLT = 277.0  # K, transition temperature of that sigmoid (4 °C)
AA = A0 / A1
EE = E1 - E0
# chillR converts °C to K with +273 (not 273.15); kept for identical results.
KELVIN_OFFSET = 273.0


def _as_hourly(values: npt.ArrayLike) -> FloatArray:
    """A 1-D float array of finite hourly temperatures, or ValueError."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError("hourly temperatures must be one-dimensional")
    if not np.all(np.isfinite(arr)):
        raise ValueError("hourly temperatures have missing values; fill gaps first")
    return arr


def chilling_hours(hourly_c: npt.ArrayLike) -> FloatArray:
    """1 for each hour between 0 and 7.2 °C inclusive, else 0."""
    t = _as_hourly(hourly_c)
    return ((t >= CHILL_HOURS_LOW_C) & (t <= CHILL_HOURS_HIGH_C)).astype(np.float64)


def utah_units(hourly_c: npt.ArrayLike) -> FloatArray:
    """Each hour's Utah chill units (negative in warm hours)."""
    t = _as_hourly(hourly_c)
    bounds = np.array([b for b, _ in UTAH_BANDS])
    weights = np.array([w for _, w in UTAH_BANDS] + [UTAH_ABOVE])
    # side="left": a temperature equal to a bound belongs to the band it closes.
    return weights[np.searchsorted(bounds, t, side="left")]


def dynamic_portions(hourly_c: npt.ArrayLike) -> FloatArray:
    """Each hour's chill portions of the Dynamic model (never negative).

    The recursion is chillR's: the intermediate product E starts at 0 in the first hour
    (which adds nothing); each next hour it relaxes towards its equilibrium xs at rate ak1,
    and once E >= 1 the share xi of it is fixed as a portion and removed.
    """
    t = _as_hourly(hourly_c)
    n = t.size
    out = np.zeros(n)
    if n < 2:
        return out
    tk = t + KELVIN_OFFSET
    sr = np.exp(SLP * TETMLT * (tk - TETMLT) / tk)
    xi = sr / (1.0 + sr)
    xs = AA * np.exp(EE / tk)
    decay = np.exp(-A1 * np.exp(-E1 / tk))
    e_prev = 0.0
    for i in range(1, n):
        # After a portion was fixed in the previous hour, its share xi is gone.
        s = e_prev if e_prev < 1.0 else e_prev - e_prev * xi[i - 1]
        e = xs[i] - (xs[i] - s) * decay[i]
        if e >= 1.0:
            out[i] = e * xi[i]
        e_prev = e
    return out


def hours_per_portion(temp_c: float, *, hours: int = 24 * 60) -> float:
    """Mean hours per chill portion at a constant temperature (inf when none accrue)."""
    total = float(dynamic_portions(np.full(hours, temp_c)).sum())
    return math.inf if total <= 0.0 else hours / total
