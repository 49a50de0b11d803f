"""Vapour pressure deficit (飽差) and dew point from air temperature and relative humidity.

- Saturation vapour pressure: the Tetens form of FAO-56 eq. 11 (Allen, Pereira, Raes & Smith
  1998, "Crop evapotranspiration", FAO Irrigation and Drainage Paper 56),
  e°(T) = 0.6108 exp(17.27 T / (T + 237.3)) kPa.
- Actual vapour pressure e_a = e°(T) RH / 100 (FAO-56 eq. 17-19 with one humidity reading).
- VPD = e°(T) - e_a, in kPa.
- Dew point: the Magnus form inverted, with Alduchov & Eskridge (1996, J. Appl. Meteor.
  35:601-609) constants a = 17.625, b = 243.04 °C.

All functions take numpy arrays or scalars and broadcast.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# FAO-56 eq. 11.
FAO_E0_KPA = 0.6108
FAO_A = 17.27
FAO_B_C = 237.3

# Alduchov & Eskridge (1996), Magnus coefficients over water.
MAGNUS_A = 17.625
MAGNUS_B_C = 243.04

RH_MAX = 100.0


def _rh(rh_percent: npt.ArrayLike, *, allow_zero: bool) -> FloatArray:
    """Relative humidity as floats in [0, 100] (or (0, 100]), else ValueError."""
    rh = np.asarray(rh_percent, dtype=np.float64)
    low_ok = rh >= 0.0 if allow_zero else rh > 0.0
    if not np.all(low_ok & (rh <= RH_MAX)):
        bound = "[0, 100]" if allow_zero else "(0, 100]"
        raise ValueError(f"relative humidity must be in {bound} %; clip sensor overshoot first")
    return rh


def saturation_vapour_pressure(temp_c: npt.ArrayLike) -> FloatArray:
    """Saturation vapour pressure over water, kPa (FAO-56 eq. 11)."""
    t = np.asarray(temp_c, dtype=np.float64)
    return FAO_E0_KPA * np.exp(FAO_A * t / (t + FAO_B_C))


def actual_vapour_pressure(temp_c: npt.ArrayLike, rh_percent: npt.ArrayLike) -> FloatArray:
    """Actual vapour pressure, kPa, from temperature and relative humidity."""
    return saturation_vapour_pressure(temp_c) * _rh(rh_percent, allow_zero=True) / RH_MAX


def vpd_kpa(temp_c: npt.ArrayLike, rh_percent: npt.ArrayLike) -> FloatArray:
    """Vapour pressure deficit, kPa (never negative for RH <= 100 %)."""
    rh = _rh(rh_percent, allow_zero=True)
    return saturation_vapour_pressure(temp_c) * (1.0 - rh / RH_MAX)


def dew_point_c(temp_c: npt.ArrayLike, rh_percent: npt.ArrayLike) -> FloatArray:
    """Dew point, °C, by the Magnus formula with Alduchov & Eskridge constants."""
    t = np.asarray(temp_c, dtype=np.float64)
    gamma = np.log(_rh(rh_percent, allow_zero=False) / RH_MAX) + MAGNUS_A * t / (MAGNUS_B_C + t)
    return MAGNUS_B_C * gamma / (MAGNUS_A - gamma)
