"""Saturation vapour pressure, VPD and dew point against FAO-56 and Magnus reference values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.field.vpd import (
    actual_vapour_pressure,
    dew_point_c,
    saturation_vapour_pressure,
    vpd_kpa,
)

temps = st.floats(min_value=-40.0, max_value=50.0, allow_nan=False)
rhs = st.floats(min_value=0.5, max_value=100.0, allow_nan=False)


def test_saturation_pressure_matches_fao56_annex_table() -> None:
    """FAO-56 Annex 2 Table 2.3 lists e°(20 °C) = 2.338 kPa and e°(30 °C) = 4.243 kPa."""
    assert saturation_vapour_pressure(20.0) == pytest.approx(2.338, abs=5e-4)
    assert saturation_vapour_pressure(30.0) == pytest.approx(4.243, abs=5e-4)


def test_vpd_at_20c_and_50_percent() -> None:
    """At 20 °C and 50 % RH the deficit is half of 2.338 kPa, about 1.17 kPa."""
    assert vpd_kpa(20.0, 50.0) == pytest.approx(1.17, abs=0.005)
    assert actual_vapour_pressure(20.0, 50.0) == pytest.approx(1.169, abs=0.001)


def test_dew_point_at_20c_and_50_percent() -> None:
    """The Magnus dew point of 20 °C air at 50 % RH is about 9.3 °C."""
    assert dew_point_c(20.0, 50.0) == pytest.approx(9.26, abs=0.05)


def test_saturated_air_has_no_deficit_and_dew_point_equals_temperature() -> None:
    """At 100 % RH the deficit is 0 and the dew point is the air temperature."""
    assert vpd_kpa(15.0, 100.0) == pytest.approx(0.0)
    assert dew_point_c(15.0, 100.0) == pytest.approx(15.0)


def test_arrays_broadcast() -> None:
    """One temperature against several humidities gives one value per humidity."""
    out = vpd_kpa(np.array([20.0]), np.array([0.0, 50.0, 100.0]))
    assert out.shape == (3,)
    assert out == pytest.approx([2.338, 1.169, 0.0], abs=1e-3)


def test_humidity_out_of_range_is_refused() -> None:
    """RH above 100 % or below 0 % is refused; the dew point also refuses 0 %."""
    with pytest.raises(ValueError):
        vpd_kpa(20.0, 101.0)
    with pytest.raises(ValueError):
        vpd_kpa(20.0, -1.0)
    with pytest.raises(ValueError):
        dew_point_c(20.0, 0.0)


@given(temps, rhs)
def test_vpd_is_non_negative_and_dew_point_at_most_temperature(t: float, rh: float) -> None:
    """VPD >= 0 and the dew point never exceeds the air temperature."""
    assert vpd_kpa(t, rh) >= 0.0
    assert dew_point_c(t, rh) <= t + 1e-9


@given(temps, rhs, rhs)
def test_more_humid_air_has_a_higher_dew_point_and_lower_deficit(
    t: float, a: float, b: float
) -> None:
    """Raising RH at a fixed temperature raises the dew point and lowers the deficit."""
    lo, hi = min(a, b), max(a, b)
    assert dew_point_c(t, lo) <= dew_point_c(t, hi) + 1e-9
    assert vpd_kpa(t, lo) >= vpd_kpa(t, hi) - 1e-12
