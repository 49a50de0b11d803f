"""Apple scab (黒星病) infection periods and a generic leaf-wetness rule, from hourly data.

Apple scab: the revised Mills table of MacHardy & Gadoury (1989, "A revision of Mills's
criteria for predicting apple scab infection periods", Phytopathology 79:304-310), as
tabulated with its low-temperature amendment (Stensvand et al. 1997) by West Virginia
University's Kearneysville Tree Fruit Research and Education Center ("Mills Table"): the
minimum hours of leaf wetness for infection by ascospores at the mean temperature of the wet
period. The revised table gives infection or not; it drops Mills's light/moderate/heavy
classes, because severity depends also on inoculum, susceptible tissue and cultivar (Penn
State Extension 2012, "Apple disease situation in this year of early onset of bloom").

Wet periods: wet hours separated by dry spells shorter than 8 h are one period and their wet
hours are added; a dry spell of 8 h or more ends the period (same WVU table, note a). With
timestamps, the optional night rule of MacHardy & Gadoury applies: ascospores are released in
daylight, so a period that starts between 19:00 and 07:00 counts its wet hours from 07:00.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# (°F, minimum hours of leaf wetness for ascospore infection): the revised Mills table as
# published by WVU Kearneysville after MacHardy & Gadoury (1989). 61-75 °F share 6 h.
REVISED_MILLS_F: tuple[tuple[float, float], ...] = (
    (34.0, 41.0),
    (36.0, 35.0),
    (37.0, 30.0),
    (39.0, 28.0),
    (41.0, 21.0),
    (43.0, 18.0),
    (45.0, 15.0),
    (46.0, 13.0),
    (48.0, 12.0),
    (50.0, 11.0),
    (52.0, 9.0),
    (54.0, 8.0),
    (55.0, 8.0),
    (57.0, 7.0),
    (59.0, 7.0),
    (61.0, 6.0),
    (75.0, 6.0),
    (77.0, 8.0),
    (79.0, 11.0),
)
# A dry spell this long ends a wet period (MacHardy & Gadoury 1989, via WVU's table).
SCAB_DRY_GAP_HOURS = 8
# Night rule: a period starting in [19:00, 07:00) is counted from 07:00. 07:00 is MacHardy &
# Gadoury's (1989) start for night rain; 19:00 as the start of night follows the New England
# Tree Fruit Management Guide ("Apple Scab Infection Periods": 7 p.m. to 8 a.m. under DST).
NIGHT_START_HOUR = 19
DAWN_HOUR = 7
MINUTES_PER_HOUR = 60.0


class WetnessUnit(StrEnum):
    """What the hourly leaf-wetness values mean."""

    FLAG = "flag"  # 0 dry, 1 wet (fractions allowed)
    MINUTES = "minutes"  # minutes wet in the hour, 0-60


@dataclass(frozen=True, slots=True)
class WetPeriod:
    """Wet hours joined across short dry spells; indices are into the hourly series."""

    start: int
    end: int  # inclusive: the last wet hour
    wet_hours: int
    mean_temp_c: float
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class ScabInfection:
    """A wet period judged against the revised Mills table."""

    period: WetPeriod
    required_hours: float | None  # None: mean temperature outside the table (no infection)
    infection: bool


def _f(temp_c: float) -> float:
    """Degrees Celsius to Fahrenheit."""
    return temp_c * 9.0 / 5.0 + 32.0


def scab_hours_required(mean_temp_c: float) -> float | None:
    """Minimum wet hours for ascospore infection at a mean temperature; None off the table.

    Between the table's temperatures the hours are interpolated linearly (the table is a
    sampling of a smooth curve; MacHardy & Gadoury fitted a polynomial to it). Below 34 °F
    (1.1 °C) or above 79 °F (26.1 °C) the table predicts no infection.
    """
    temp_f = _f(mean_temp_c)
    temps = [t for t, _ in REVISED_MILLS_F]
    if not temps[0] <= temp_f <= temps[-1]:
        return None
    return float(np.interp(temp_f, temps, [h for _, h in REVISED_MILLS_F]))


def _wet_flags(wetness: npt.ArrayLike, unit: WetnessUnit, min_wet_fraction: float) -> np.ndarray:
    """Boolean wet hours from flags or minutes per hour."""
    w = np.asarray(wetness, dtype=np.float64)
    if w.ndim != 1 or not np.all(np.isfinite(w)):
        raise ValueError("leaf wetness must be a one-dimensional series without gaps")
    fraction = w / MINUTES_PER_HOUR if unit is WetnessUnit.MINUTES else w
    if np.any(fraction < 0.0) or np.any(fraction > 1.0):
        raise ValueError(f"leaf wetness out of range for unit {unit.value!r}")
    return fraction >= min_wet_fraction


def _night_start_skip(times: Sequence[dt.datetime], first: int, last: int, wet: np.ndarray) -> int:
    """The first counted wet hour of a period that began at night (07:00 or later)."""
    hour = times[first].hour
    if DAWN_HOUR <= hour < NIGHT_START_HOUR:
        return first
    dawn = times[first].replace(hour=DAWN_HOUR, minute=0, second=0, microsecond=0)
    if hour >= NIGHT_START_HOUR:
        dawn += dt.timedelta(days=1)
    for i in range(first, last + 1):
        if wet[i] and times[i] >= dawn:
            return i
    return last + 1


def wet_periods(
    wetness: npt.ArrayLike,
    temps_c: npt.ArrayLike,
    *,
    unit: WetnessUnit = WetnessUnit.FLAG,
    min_wet_fraction: float = 0.5,
    max_dry_gap_hours: int = SCAB_DRY_GAP_HOURS,
    times: Sequence[dt.datetime] | None = None,
    night_rule: bool = False,
) -> list[WetPeriod]:
    """Split hourly leaf wetness into wet periods (dry spells < `max_dry_gap_hours` joined).

    An hour is wet when at least `min_wet_fraction` of it was wet. The mean temperature is
    over the counted wet hours only. `night_rule` needs `times` (local, hourly); a period
    that began at night and dried before 07:00 counts no hours and is dropped.
    """
    wet = _wet_flags(wetness, unit, min_wet_fraction)
    temps = np.asarray(temps_c, dtype=np.float64)
    if temps.shape != wet.shape:
        raise ValueError("leaf wetness and temperature must have the same length")
    if times is not None and len(times) != wet.size:
        raise ValueError("times must have one entry per hour")
    if night_rule and times is None:
        raise ValueError("the night rule needs the hours' timestamps")
    groups: list[tuple[int, int]] = []
    for i in np.flatnonzero(wet).tolist():
        if groups and i - groups[-1][1] - 1 < max_dry_gap_hours:
            groups[-1] = (groups[-1][0], i)
        else:
            groups.append((i, i))
    periods = []
    for first, last in groups:
        start = _night_start_skip(times, first, last, wet) if night_rule and times else first
        counted = np.flatnonzero(wet[start : last + 1]) + start
        if counted.size == 0:
            continue
        mean = float(temps[counted].mean())
        if not np.isfinite(mean):
            raise ValueError("temperature missing during a wet period")
        periods.append(
            WetPeriod(
                start=int(counted[0]),
                end=last,
                wet_hours=int(counted.size),
                mean_temp_c=mean,
                start_time=None if times is None else times[int(counted[0])],
                end_time=None if times is None else times[last],
            )
        )
    return periods


def scab_infections(
    wetness: npt.ArrayLike,
    temps_c: npt.ArrayLike,
    *,
    unit: WetnessUnit = WetnessUnit.FLAG,
    min_wet_fraction: float = 0.5,
    times: Sequence[dt.datetime] | None = None,
    night_rule: bool = False,
) -> list[ScabInfection]:
    """Every wet period of an hourly series and whether it met the revised Mills table."""
    out = []
    for period in wet_periods(
        wetness,
        temps_c,
        unit=unit,
        min_wet_fraction=min_wet_fraction,
        times=times,
        night_rule=night_rule,
    ):
        need = scab_hours_required(period.mean_temp_c)
        out.append(ScabInfection(period, need, need is not None and period.wet_hours >= need))
    return out


@dataclass(frozen=True, slots=True)
class WetnessRule:
    """A generic leaf-wetness risk rule: not a validated disease model.

    A period is at risk when it has at least `min_hours` wet hours whose temperature lies in
    [t_min_c, t_max_c]. Set the numbers from the disease's own literature.
    """

    t_min_c: float
    t_max_c: float
    min_hours: float
    max_dry_gap_hours: int = SCAB_DRY_GAP_HOURS

    def __post_init__(self) -> None:
        """Refuse an empty temperature range or a non-positive hour threshold."""
        if self.t_max_c < self.t_min_c or self.min_hours <= 0:
            raise ValueError("need t_min_c <= t_max_c and min_hours > 0")


@dataclass(frozen=True, slots=True)
class WetnessRisk:
    """A wet period and its hours inside the rule's temperature range."""

    period: WetPeriod
    hours_in_range: int
    at_risk: bool


def wetness_risks(
    wetness: npt.ArrayLike,
    temps_c: npt.ArrayLike,
    *,
    rule: WetnessRule,
    unit: WetnessUnit = WetnessUnit.FLAG,
    min_wet_fraction: float = 0.5,
    times: Sequence[dt.datetime] | None = None,
) -> list[WetnessRisk]:
    """Each wet period with the count of its wet hours in range and the rule's verdict."""
    wet = _wet_flags(wetness, unit, min_wet_fraction)
    temps = np.asarray(temps_c, dtype=np.float64)
    in_range = wet & (temps >= rule.t_min_c) & (temps <= rule.t_max_c)
    out = []
    for period in wet_periods(
        wetness,
        temps,
        unit=unit,
        min_wet_fraction=min_wet_fraction,
        max_dry_gap_hours=rule.max_dry_gap_hours,
        times=times,
    ):
        hours = int(in_range[period.start : period.end + 1].sum())
        out.append(WetnessRisk(period, hours, hours >= rule.min_hours))
    return out
