"""Chill models: chilling hours, Utah chill units and Dynamic-model chill portions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.field.chill import (
    A1,
    AA,
    E1,
    EE,
    SLP,
    TETMLT,
    chilling_hours,
    dynamic_portions,
    hours_per_portion,
    utah_units,
)

hourly = st.lists(st.floats(min_value=-15.0, max_value=30.0, allow_nan=False), max_size=400)


def test_chilling_hours_count_0_to_7_2_inclusive() -> None:
    """Only hours from 0 to 7.2 °C count, both bounds included."""
    got = chilling_hours([-0.1, 0.0, 3.0, 7.2, 7.3])
    assert got.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


def test_utah_series_sums_its_band_weights() -> None:
    """One hour in each Utah band sums to 0 + 0.5 + 1 + 0.5 + 0 - 0.5 - 1 = 0.5 units."""
    series = [0.0, 2.0, 5.0, 10.0, 14.0, 17.0, 20.0]
    assert utah_units(series).tolist() == [0.0, 0.5, 1.0, 0.5, 0.0, -0.5, -1.0]
    assert float(np.sum(utah_units(series))) == pytest.approx(0.5)


def test_utah_band_bounds_belong_to_the_band_they_close() -> None:
    """A temperature equal to a bound takes the lower band's weight (chillR's `x <= upper`)."""
    bounds = [1.4, 2.4, 9.1, 12.4, 15.9, 18.0]
    assert utah_units(bounds).tolist() == [0.0, 0.5, 1.0, 0.5, 0.0, -0.5]


def test_utah_warm_days_cancel_chill() -> None:
    """A week at 6 °C then a week at 20 °C nets zero Utah units."""
    units = utah_units([6.0] * 168 + [20.0] * 168)
    assert float(np.cumsum(units)[167]) == 168.0
    assert float(np.sum(units)) == 0.0


def test_dynamic_model_at_6c_accrues_about_one_portion_per_29_hours() -> None:
    """At a constant 6 °C (near the model's optimum) a portion takes about 28-30 h."""
    assert 28.0 <= hours_per_portion(6.0) <= 30.0


def test_dynamic_model_accrues_nothing_when_constantly_warm() -> None:
    """Constant 15 °C or more destroys the intermediate product before it is fixed."""
    assert math.isinf(hours_per_portion(15.0))
    assert float(dynamic_portions(np.full(2000, 20.0)).sum()) == 0.0


def test_dynamic_model_is_slower_far_from_its_optimum() -> None:
    """Near freezing and at 12 °C portions take longer than at 6 °C."""
    best = hours_per_portion(6.0)
    assert hours_per_portion(0.0) > best
    assert hours_per_portion(12.0) > best


def _chillr_reference(temps: list[float]) -> np.ndarray:
    """A line-by-line transcription of chillR's `Dynamic_Model` loop (per-hour portions)."""
    tk = np.asarray(temps) + 273.0
    ftmprt = SLP * TETMLT * (tk - TETMLT) / tk
    sr = np.exp(ftmprt)
    xi = sr / (1 + sr)
    xs = AA * np.exp(EE / tk)
    ak1 = A1 * np.exp(-E1 / tk)
    s = ak1.copy()
    s[0] = 0.0
    e = s.copy()
    for ll in range(1, len(temps)):
        if e[ll - 1] < 1:
            s[ll] = e[ll - 1]
        else:
            s[ll] = e[ll - 1] - e[ll - 1] * xi[ll - 1]
        e[ll] = xs[ll] - (xs[ll] - s[ll]) * np.exp(-ak1[ll])
    delt = np.zeros(len(temps))
    delt[e >= 1] = e[e >= 1] * xi[e >= 1]
    return delt


@given(hourly)
def test_dynamic_model_matches_the_chillr_recursion(temps: list[float]) -> None:
    """The per-hour portions equal the transcribed chillR loop on any series of 2+ hours."""
    if len(temps) < 2:
        assert dynamic_portions(temps).sum() == 0.0
        return
    assert dynamic_portions(temps) == pytest.approx(_chillr_reference(temps), abs=1e-12)


@given(hourly)
def test_portions_never_decrease_and_chill_hours_bound_the_count(temps: list[float]) -> None:
    """Chill portions are never lost; chilling hours never exceed the hours given."""
    assert np.all(dynamic_portions(temps) >= 0.0)
    assert float(chilling_hours(temps).sum()) <= len(temps)
    assert np.all(np.abs(utah_units(temps)) <= 1.0)


def test_gaps_are_refused() -> None:
    """A missing hour is refused rather than counted as cold or warm."""
    for model in (chilling_hours, utah_units, dynamic_portions):
        with pytest.raises(ValueError, match="missing"):
            model([5.0, np.nan, 5.0])
