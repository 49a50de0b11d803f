"""Rain series: step detection and its errors, 60-minute rainfall, gauge counter totals."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from models.landslide.errors import LandslideError
from models.landslide.rainfall import from_cumulative, moving_sum, r60, regular_step

T0 = dt.datetime(2026, 7, 1, tzinfo=dt.timezone(dt.timedelta(hours=9)))


def _times(minutes: list[float]) -> list[dt.datetime]:
    """Timestamps at these minutes after T0."""
    return [T0 + dt.timedelta(minutes=m) for m in minutes]


def test_the_step_is_detected_from_the_times() -> None:
    """Regular 10-minute and hourly series give their step in minutes."""
    assert regular_step(_times([0, 10, 20, 30])) == 10.0
    assert regular_step(_times([0, 60, 120])) == 60.0


@pytest.mark.parametrize(
    ("minutes", "ja", "en"),
    [
        ([0, 10, 30, 40], "欠測", "gap"),
        ([0, 20, 10, 30], "昇順", "increasing order"),
        ([0, 10, 10, 20], "昇順", "increasing order"),
    ],
)
def test_gaps_and_unsorted_or_repeated_times_are_refused(
    minutes: list[float], ja: str, en: str
) -> None:
    """A missing step, a time out of order or twice is an error in both languages."""
    with pytest.raises(LandslideError) as error:
        regular_step(_times(minutes))
    assert ja in str(error.value)
    assert en in str(error.value)


def test_a_given_step_must_match_the_times() -> None:
    """With --step 10, an hourly series is a series of gaps."""
    with pytest.raises(LandslideError, match="gap"):
        regular_step(_times([0, 60, 120]), step_minutes=10)
    assert regular_step(_times([0]), step_minutes=10) == 10.0


def test_r60_is_the_sum_of_the_last_hour_of_steps() -> None:
    """At 10 minutes, R60 is each step plus the five before it, against a plain loop."""
    rain = np.random.default_rng(1).gamma(0.8, 3.0, 200)
    expected = [rain[max(0, i - 5) : i + 1].sum() for i in range(rain.size)]
    assert np.allclose(r60(rain, step_minutes=10), expected, rtol=0, atol=1e-9)
    assert np.allclose(r60(rain, step_minutes=60), rain)


def test_a_dry_hour_after_rain_reads_exactly_zero() -> None:
    """Running-sum rounding does not leave a tiny R60 once the rain has left the window."""
    rain = np.array([0.1, 0.7, 0.2, 0.3] + [0.0] * 6)
    assert r60(rain, step_minutes=10)[-1] == 0.0
    assert moving_sum(rain, step_minutes=10, window_minutes=30)[3] == pytest.approx(1.2)


def test_r60_needs_a_step_that_divides_an_hour() -> None:
    """A 25-minute or 2-hour step cannot give 60-minute rainfall."""
    for step in (25, 120):
        with pytest.raises(LandslideError, match="divides 60"):
            r60([1.0, 2.0], step_minutes=step)


def test_gauge_totals_become_rain_per_step_across_a_counter_reset() -> None:
    """A falling total is a restart from zero: the rain since then is the new total."""
    rain, resets = from_cumulative([100.0, 100.5, 102.0, 0.5, 1.5, 1.5])
    assert rain.tolist() == pytest.approx([0.0, 0.5, 1.5, 0.5, 1.0, 0.0])
    assert resets == [3]
    with pytest.raises(LandslideError, match="negative or missing"):
        from_cumulative([1.0, float("nan")])
