"""Apple scab infection periods (revised Mills table) and the generic leaf-wetness rule."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.field.disease import (
    REVISED_MILLS_F,
    WetnessRule,
    WetnessUnit,
    scab_hours_required,
    scab_infections,
    wet_periods,
    wetness_risks,
)


def _c(temp_f: float) -> float:
    """Fahrenheit to Celsius for table lookups."""
    return (temp_f - 32.0) * 5.0 / 9.0


def test_table_lookups_at_published_temperatures() -> None:
    """Every published row is returned exactly at its own temperature."""
    for temp_f, hours in REVISED_MILLS_F:
        assert scab_hours_required(_c(temp_f)) == pytest.approx(hours)


def test_warm_plateau_needs_six_hours() -> None:
    """From 61 to 75 °F (16.1-23.9 °C) the revised table needs 6 wet hours."""
    for temp_c in (16.5, 18.0, 20.0, 23.8):
        assert scab_hours_required(temp_c) == pytest.approx(6.0)


def test_lookup_interpolates_between_rows() -> None:
    """Half-way between 50 °F (11 h) and 52 °F (9 h) the requirement is 10 h."""
    assert scab_hours_required(_c(51.0)) == pytest.approx(10.0)


def test_outside_the_table_there_is_no_infection() -> None:
    """Below 34 °F or above 79 °F the table does not predict infection."""
    assert scab_hours_required(_c(33.0)) is None
    assert scab_hours_required(_c(80.0)) is None


def test_short_dry_spells_join_and_long_ones_split() -> None:
    """Wet 5 h, dry 3 h, wet 4 h is one 9-hour period; a dry spell of 8 h splits it."""
    joined = [1] * 5 + [0] * 3 + [1] * 4
    periods = wet_periods(joined, [10.0] * len(joined))
    assert len(periods) == 1
    assert (periods[0].start, periods[0].end, periods[0].wet_hours) == (0, 11, 9)
    split = [1] * 5 + [0] * 8 + [1] * 4
    assert [p.wet_hours for p in wet_periods(split, [10.0] * len(split))] == [5, 4]


def test_mean_temperature_is_over_wet_hours_only() -> None:
    """A hot dry hour inside the period does not raise its mean temperature."""
    wet = [1, 1, 0, 1]
    temps = [10.0, 12.0, 30.0, 14.0]
    assert wet_periods(wet, temps)[0].mean_temp_c == pytest.approx(12.0)


def test_infection_needs_the_tabled_hours_at_the_mean_temperature() -> None:
    """At 10 °C (50 °F, 11 h) 10 wet hours do not infect and 11 do."""
    ten = scab_infections([1] * 10, [10.0] * 10)
    eleven = scab_infections([1] * 11, [10.0] * 11)
    assert ten[0].required_hours == pytest.approx(11.0)
    assert not ten[0].infection
    assert eleven[0].infection


def test_minutes_per_hour_input() -> None:
    """Minutes wet per hour: an hour counts wet from 30 minutes by default."""
    periods = wet_periods([45, 30, 29, 0, 60], [18.0] * 5, unit=WetnessUnit.MINUTES)
    assert [p.wet_hours for p in periods] == [3]
    with pytest.raises(ValueError, match="out of range"):
        wet_periods([90], [18.0], unit=WetnessUnit.MINUTES)


def test_night_rule_counts_from_seven_in_the_morning() -> None:
    """Wet from 22:00 to 10:00 counts only 07:00-10:00 (4 h) under the night rule."""
    start = dt.datetime(2026, 4, 20, 22)
    times = [start + dt.timedelta(hours=h) for h in range(13)]
    plain = wet_periods([1] * 13, [12.0] * 13, times=times)
    night = wet_periods([1] * 13, [12.0] * 13, times=times, night_rule=True)
    assert plain[0].wet_hours == 13
    assert night[0].wet_hours == 4
    assert night[0].start_time == dt.datetime(2026, 4, 21, 7)
    with pytest.raises(ValueError, match="timestamps"):
        wet_periods([1], [12.0], night_rule=True)


def test_night_period_that_dries_before_dawn_is_dropped() -> None:
    """Wet from 23:00 to 05:00 under the night rule counts no hours: no period."""
    start = dt.datetime(2026, 4, 20, 23)
    times = [start + dt.timedelta(hours=h) for h in range(9)]
    wet = [1] * 7 + [0] * 2
    assert wet_periods(wet, [12.0] * 9, times=times, night_rule=True) == []


def test_daytime_start_is_not_shifted_by_the_night_rule() -> None:
    """A period starting at 09:00 keeps all its hours."""
    start = dt.datetime(2026, 4, 20, 9)
    times = [start + dt.timedelta(hours=h) for h in range(6)]
    assert wet_periods([1] * 6, [15.0] * 6, times=times, night_rule=True)[0].wet_hours == 6


def test_generic_rule_counts_wet_hours_within_its_temperature_range() -> None:
    """A rule of >= 4 wet hours at 15-25 °C: 3 hours in range is not at risk, 4 is."""
    rule = WetnessRule(t_min_c=15.0, t_max_c=25.0, min_hours=4)
    temps = [14.0, 16.0, 18.0, 20.0, 26.0]
    risks = wetness_risks([1] * 5, temps, rule=rule)
    assert risks[0].hours_in_range == 3
    assert not risks[0].at_risk
    assert wetness_risks([1] * 5, [16.0] * 5, rule=rule)[0].at_risk
    with pytest.raises(ValueError):
        WetnessRule(t_min_c=20.0, t_max_c=10.0, min_hours=4)


def test_mismatched_inputs_are_refused() -> None:
    """Wetness and temperature must be the same length and without gaps."""
    with pytest.raises(ValueError, match="same length"):
        wet_periods([1, 1], [10.0])
    with pytest.raises(ValueError, match="without gaps"):
        wet_periods([1, np.nan], [10.0, 10.0])


@given(
    st.lists(st.booleans(), max_size=200),
    st.integers(min_value=1, max_value=24),
)
def test_periods_partition_the_wet_hours(flags: list[bool], gap: int) -> None:
    """Periods hold every wet hour once, and consecutive ones are >= gap dry hours apart."""
    wet = [1 if f else 0 for f in flags]
    periods = wet_periods(wet, [10.0] * len(wet), max_dry_gap_hours=gap)
    assert sum(p.wet_hours for p in periods) == sum(wet)
    for a, b in itertools.pairwise(periods):
        assert b.start - a.end - 1 >= gap
