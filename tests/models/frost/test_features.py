"""The √t extrapolation of the evening cooling and the default issue hours' target window."""

from __future__ import annotations

import numpy as np

from models.frost.features import (
    BRUNT_END_LABEL,
    DEFAULT_ISSUE_HOURS,
    brunt_minimum,
    night_minimum,
)
from models.frost.hourly import HOURS


def _day(sunset_label: int, level: float, slope: float) -> tuple[np.ndarray, np.ndarray]:
    """One day: sunshine until `sunset_label - 1`, then air cooling as level + slope·√(t - t0)."""
    sun = np.where(np.arange(HOURS) < sunset_label, 300.0, 0.0)
    t = np.full(HOURS, 15.0)
    after = np.arange(sunset_label, HOURS)
    t[after] = level + slope * np.sqrt(after - (sunset_label - 1.0))
    return t[None, :], sun[None, :]


def test_a_square_root_night_is_extrapolated_to_its_own_curve() -> None:
    """Temperatures on an exact √t curve give that curve's 06:00 value, whatever the issue hour."""
    t, sun = _day(18, 10.0, -2.0)
    expected = 10.0 - 2.0 * np.sqrt(BRUNT_END_LABEL - 17.0)
    for h in (20, 21, 23):
        assert np.isclose(brunt_minimum(t, sun, h)[0], expected)


def test_no_extrapolation_before_three_dark_hours_or_without_radiation() -> None:
    """Before sunset, with under three dark hours, or without a pyranometer: NaN."""
    t, sun = _day(19, 10.0, -2.0)
    assert np.isnan(brunt_minimum(t, sun, 18)[0])
    assert np.isnan(brunt_minimum(t, sun, 20)[0])
    assert np.isfinite(brunt_minimum(t, sun, 21)[0])
    assert np.isnan(brunt_minimum(t, np.full_like(sun, np.nan), 21)[0])


def test_a_warming_evening_is_not_extrapolated_upwards() -> None:
    """A slope that warms counts as no cooling: the value is the evening's mean, not higher."""
    t, sun = _day(18, 5.0, 1.5)
    value = brunt_minimum(t, sun, 22)[0]
    assert np.isclose(value, np.mean(t[0, 18:23]))


def test_the_evening_issue_window_runs_from_after_it_to_the_morning() -> None:
    """The later default issue hour's target is the minimum after it: an earlier cold hour of
    the evening is outside it, one at 05:00 next morning inside it."""
    evening = max(DEFAULT_ISSUE_HOURS)
    grid = np.full((2, HOURS), 8.0)
    grid[0, evening] = -5.0  # the issue hour itself: already known, not forecast
    grid[1, 5] = -1.0
    assert night_minimum(grid, evening, 8)[0] == -1.0
