"""Degree days: the averaging and curve methods, cut-offs, hourly input and accumulation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.field.thermal import (
    CROP_THERMAL,
    CropThermal,
    GddMethod,
    accumulate,
    daily_gdd,
    gdd_series,
    hourly_gdd,
    hourly_gdd_series,
    thermal_for,
)

RICE = CropThermal("test-rice", base_c=10.0, upper_c=30.0, source="test")
NO_CAP = CropThermal("test-grape", base_c=10.0, upper_c=None, source="test")

temps = st.floats(min_value=-30.0, max_value=45.0, allow_nan=False)


def test_constant_day_gives_mean_minus_base_by_every_method() -> None:
    """A day at a constant 18 °C adds 8 degree days above 10 °C whichever method is used."""
    for method in GddMethod:
        assert daily_gdd([18.0], [18.0], thermal=NO_CAP, method=method)[0] == pytest.approx(8.0)


def test_average_method_caps_the_mean_at_the_upper_threshold() -> None:
    """A 26/40 °C day has a mean of 33 °C; capped at 30 °C it adds 20, uncapped 23."""
    assert daily_gdd([26.0], [40.0], thermal=RICE)[0] == pytest.approx(20.0)
    assert daily_gdd([26.0], [40.0], thermal=NO_CAP)[0] == pytest.approx(23.0)


def test_cold_day_adds_nothing() -> None:
    """A day wholly below the base adds no degree days by any method."""
    for method in GddMethod:
        assert daily_gdd([-5.0], [9.0], thermal=RICE, method=method)[0] == 0.0


def test_sine_method_counts_the_warm_part_of_a_day_that_crosses_the_base() -> None:
    """A 5/15 °C day around a 10 °C base: the sine's lobe above it has area A/π = 5/π."""
    got = daily_gdd([5.0], [15.0], thermal=NO_CAP, method=GddMethod.SINGLE_SINE)[0]
    assert got == pytest.approx(5.0 / np.pi)
    # The average method sees a mean exactly at the base and counts nothing.
    assert daily_gdd([5.0], [15.0], thermal=NO_CAP)[0] == 0.0


def test_triangle_method_counts_the_triangle_above_the_base() -> None:
    """A 5/15 °C triangle day exceeds 10 °C for half the day by 2.5 °C on average: 1.25."""
    got = daily_gdd([5.0], [15.0], thermal=NO_CAP, method=GddMethod.SINGLE_TRIANGLE)[0]
    assert got == pytest.approx(1.25)


def test_horizontal_cutoff_of_the_curve_methods() -> None:
    """A 20/40 °C day with a 30 °C cut-off loses the part of the curve above 30 °C."""
    sine = daily_gdd([20.0], [40.0], thermal=RICE, method=GddMethod.SINGLE_SINE)[0]
    assert sine == pytest.approx(20.0 - 10.0 / np.pi)
    tri = daily_gdd([20.0], [40.0], thermal=RICE, method=GddMethod.SINGLE_TRIANGLE)[0]
    assert tri == pytest.approx(20.0 - 10.0**2 / (2 * 20.0))


def test_a_day_above_the_cutoff_adds_upper_minus_base() -> None:
    """A day wholly above the cut-off adds exactly upper - base by every method."""
    for method in GddMethod:
        assert daily_gdd([32.0], [38.0], thermal=RICE, method=method)[0] == pytest.approx(20.0)


def test_hourly_series_gives_each_days_mean_excess() -> None:
    """Two days of hourly data: 12 h at 20 °C + 12 h at 0 °C adds 5; a day at 40 °C adds 20."""
    day1 = [20.0] * 12 + [0.0] * 12
    day2 = [40.0] * 24
    assert hourly_gdd(day1 + day2, thermal=RICE) == pytest.approx([5.0, 20.0])


def test_hourly_series_cumulates_per_day() -> None:
    """Three days of a constant 16 °C hourly series sum to 6, 12 and 18 °C·d above 10 °C."""
    series = hourly_gdd_series([16.0] * 72, thermal=RICE)
    assert series.cumulative == pytest.approx([6.0, 12.0, 18.0])


def test_hourly_series_must_be_whole_days() -> None:
    """A partial day is refused rather than silently dropped."""
    with pytest.raises(ValueError, match="whole number of days"):
        hourly_gdd([10.0] * 30, thermal=RICE)


def test_series_cumulates_the_daily_values() -> None:
    """The cumulative series is the running sum of the daily one."""
    series = gdd_series([10.0, 12.0, 8.0], [20.0, 24.0, 12.0], thermal=NO_CAP)
    assert series.daily == pytest.approx([5.0, 8.0, 0.0])
    assert series.cumulative == pytest.approx([5.0, 13.0, 13.0])


def test_bad_inputs_are_refused() -> None:
    """Gaps, swapped min/max and mismatched lengths raise ValueError."""
    with pytest.raises(ValueError, match="missing"):
        daily_gdd([np.nan], [10.0], thermal=RICE)
    with pytest.raises(ValueError, match="exceeds"):
        daily_gdd([12.0], [10.0], thermal=RICE)
    with pytest.raises(ValueError, match="same length"):
        daily_gdd([1.0, 2.0], [3.0], thermal=RICE)
    with pytest.raises(ValueError, match="must exceed"):
        CropThermal("x", base_c=10.0, upper_c=10.0, source="x")


def test_platform_crops_have_cited_thresholds() -> None:
    """Apple, grape, rice and lettuce are known, each with a source; others are refused."""
    assert set(CROP_THERMAL) == {"apple", "grape", "rice", "lettuce"}
    assert all(t.source for t in CROP_THERMAL.values())
    assert thermal_for(" Grape ").base_c == 10.0
    with pytest.raises(ValueError, match="known: apple"):
        thermal_for("wheat")


@given(st.lists(st.tuples(temps, temps), min_size=1, max_size=60), st.sampled_from(list(GddMethod)))
def test_accumulation_is_monotonic_and_bounded(days: list[tuple[float, float]], method) -> None:
    """Daily values lie in [0, upper - base], so the running sum never decreases."""
    lo = [min(a, b) for a, b in days]
    hi = [max(a, b) for a, b in days]
    series = gdd_series(lo, hi, thermal=RICE, method=method)
    assert np.all(series.daily >= 0.0)
    assert np.all(series.daily <= 20.0 + 1e-9)
    assert np.all(np.diff(series.cumulative) >= -1e-12)


@given(temps, temps)
def test_curve_methods_agree_with_a_fine_numeric_integral(a: float, b: float) -> None:
    """The closed-form sine area equals the mean of the capped sine sampled finely."""
    lo, hi = min(a, b), max(a, b)
    t = np.linspace(0.0, 2.0 * np.pi, 20001)[:-1]
    curve = (hi + lo) / 2 + (hi - lo) / 2 * np.sin(t)
    expected = np.mean(np.maximum(np.minimum(curve, 30.0) - 10.0, 0.0))
    got = daily_gdd([lo], [hi], thermal=RICE, method=GddMethod.SINGLE_SINE)[0]
    assert got == pytest.approx(expected, abs=1e-3)


def test_accumulate_refuses_gaps() -> None:
    """A daily series with a gap cannot be summed."""
    with pytest.raises(ValueError):
        accumulate([1.0, np.nan])
