"""The parts of a field's analytics, each computed from daily or hourly weather already read.

Every function takes arrays (days or hours from a local midnight) and returns a small frozen
record with dated values; missing days or hours are left out and counted, never guessed
beyond the short gaps `weather.fill_short_gaps` bridges.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.time import JST, MS_PER_HOUR
from models.field.chill import chilling_hours, dynamic_portions, utah_units
from models.field.disease import WetnessUnit, scab_infections
from models.field.stages import Stage, StageTable
from models.field.thermal import CropThermal, GddMethod, daily_gdd
from models.field.vpd import vpd_kpa
from models.field.weather import fill_short_gaps, runs

FloatArray = npt.NDArray[np.float64]
HOURS_PER_DAY = 24
# A day's VPD or wetness is listed only with at least half its hours measured, the same share
# `storage.weather` asks of a day's minimum and maximum (MIN_DAY_SHARE); our convention.
MIN_DAY_HOURS = 12
# Leaf wetness sensors report the wet share of the sensor in %; an hour whose mean is at least
# half wet is a wet hour (disease.py's `min_wet_fraction` default, our convention).
WET_FRACTION = 0.5
PERCENT = 100.0


@dataclass(frozen=True, slots=True)
class DayValue:
    """One day's value."""

    date: dt.date
    value: float


@dataclass(frozen=True, slots=True)
class GddPart:
    """Daily and cumulative degree days of the crop's thresholds since `start`."""

    thermal: CropThermal
    method: GddMethod
    start: dt.date
    start_rule: str
    daily: tuple[DayValue, ...]
    cumulative: tuple[DayValue, ...]
    days_missing: int


@dataclass(frozen=True, slots=True)
class StageDay:
    """The stage reached by the end of a day, at the table's cumulative degree days."""

    date: dt.date
    value: float
    stage: Stage


@dataclass(frozen=True, slots=True)
class StagePart:
    """The current stage on a crop's stage table, the stage of every day and the next one."""

    table: StageTable
    start: dt.date
    start_rule: str
    current: Stage
    cumulative: float
    next_stage: Stage | None
    series: tuple[StageDay, ...]
    days_missing: int


@dataclass(frozen=True, slots=True)
class ChillPart:
    """Chill accumulated since `start` through `end`: daily running sums of each model."""

    start: dt.date
    end: dt.date
    start_rule: str
    utah_units: tuple[DayValue, ...]
    chill_portions: tuple[DayValue, ...]
    chilling_hours: tuple[DayValue, ...]
    hours_used: int
    hours_missing: int


@dataclass(frozen=True, slots=True)
class VpdDay:
    """A day's mean and maximum of hourly vapour pressure deficit, kPa."""

    date: dt.date
    value: float
    max: float
    hours: int


@dataclass(frozen=True, slots=True)
class VpdPart:
    """Daily VPD over a window."""

    start: dt.date
    end: dt.date
    days: tuple[VpdDay, ...]


@dataclass(frozen=True, slots=True)
class WetnessPart:
    """Wet hours per day over a window."""

    start: dt.date
    end: dt.date
    days: tuple[DayValue, ...]


@dataclass(frozen=True, slots=True)
class ScabEvent:
    """A wet period judged against the revised Mills table (local times)."""

    start: dt.datetime
    end: dt.datetime
    wet_hours: int
    mean_temp_c: float
    required_hours: float | None
    infection: bool


@dataclass(frozen=True, slots=True)
class ScabPart:
    """Every wet period of the window with its verdict, and the infections among them."""

    start: dt.date
    end: dt.date
    periods: tuple[ScabEvent, ...]

    @property
    def infections(self) -> tuple[ScabEvent, ...]:
        """The periods that met the table."""
        return tuple(p for p in self.periods if p.infection)


def _day(first: dt.date, i: int) -> dt.date:
    """The date `i` days after `first`."""
    return first + dt.timedelta(days=i)


def gdd_part(
    tmin: FloatArray,
    tmax: FloatArray,
    *,
    first: dt.date,
    thermal: CropThermal,
    start_rule: str,
    method: GddMethod = GddMethod.AVERAGE,
) -> GddPart:
    """Degree days of the days with both extremes; a day without them adds nothing."""
    ok = np.isfinite(tmin) & np.isfinite(tmax)
    idx = np.flatnonzero(ok)
    dd = daily_gdd(tmin[idx], tmax[idx], thermal=thermal, method=method)
    total = np.cumsum(dd)
    return GddPart(
        thermal,
        method,
        first,
        start_rule,
        tuple(DayValue(_day(first, int(i)), float(v)) for i, v in zip(idx, dd, strict=True)),
        tuple(DayValue(_day(first, int(i)), float(v)) for i, v in zip(idx, total, strict=True)),
        int((~ok).sum()),
    )


def stage_part(
    tmin: FloatArray,
    tmax: FloatArray,
    *,
    first: dt.date,
    table: StageTable,
    start_rule: str,
) -> StagePart:
    """Stages reached day by day on the table's own thermal scale (it may differ from GDD's)."""
    scale = gdd_part(tmin, tmax, first=first, thermal=table.thermal, start_rule=start_rule)
    thresholds = np.array([s.gdd for s in table.stages])
    series = []
    for day in scale.cumulative:
        i = int(np.searchsorted(thresholds, day.value, side="right")) - 1
        series.append(StageDay(day.date, day.value, table.stages[i]))
    total = scale.cumulative[-1].value if scale.cumulative else 0.0
    i = int(np.searchsorted(thresholds, total, side="right")) - 1
    upcoming = table.stages[i + 1] if i + 1 < len(table.stages) else None
    return StagePart(
        table,
        first,
        start_rule,
        table.stages[i],
        total,
        upcoming,
        tuple(series),
        scale.days_missing,
    )


def chill_part(temps: FloatArray, *, first: dt.date, last: dt.date, start_rule: str) -> ChillPart:
    """Running chill sums per day from hourly temperatures starting at `first`'s midnight.

    Short gaps are bridged; each stretch of measured hours runs the Dynamic model from a fresh
    state, so a long gap loses only the intermediate product of that stretch (an underestimate).
    """
    filled = fill_short_gaps(temps)
    utah = np.zeros(filled.size)
    portions = np.zeros(filled.size)
    hours = np.zeros(filled.size)
    measured = np.isfinite(filled)
    for a, b in runs(measured):
        utah[a:b] = utah_units(filled[a:b])
        portions[a:b] = dynamic_portions(filled[a:b])
        hours[a:b] = chilling_hours(filled[a:b])
    days = filled.size // HOURS_PER_DAY
    listed = [d for d in range(days) if measured[d * 24 : (d + 1) * 24].any()]

    def running(per_hour: FloatArray) -> tuple[DayValue, ...]:
        total = np.cumsum(per_hour.reshape(days, HOURS_PER_DAY).sum(axis=1))
        return tuple(DayValue(_day(first, d), float(total[d])) for d in listed)

    return ChillPart(
        first,
        last,
        start_rule,
        running(utah),
        running(portions),
        running(hours),
        int(measured.sum()),
        int((~measured).sum()),
    )


def vpd_part(temps: FloatArray, humidity: FloatArray, *, first: dt.date, last: dt.date) -> VpdPart:
    """Daily mean and maximum of hourly VPD for days with enough hours of both readings."""
    both = np.isfinite(temps) & np.isfinite(humidity)
    vpd = np.full(temps.size, np.nan)
    # Humidity sensors overshoot 100 % in fog; saturated air has no deficit.
    vpd[both] = vpd_kpa(temps[both], np.clip(humidity[both], 0.0, PERCENT))
    out = []
    for d in range(temps.size // HOURS_PER_DAY):
        hours = vpd[d * 24 : (d + 1) * 24]
        seen = hours[np.isfinite(hours)]
        if seen.size >= MIN_DAY_HOURS:
            out.append(VpdDay(_day(first, d), float(seen.mean()), float(seen.max()), seen.size))
    return VpdPart(first, last, tuple(out))


def wet_hours(wetness: FloatArray) -> npt.NDArray[np.bool_]:
    """Hours at least half wet (NaN: not wet, and not measured)."""
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(wetness, nan=0.0) / PERCENT >= WET_FRACTION


def wetness_part(wetness: FloatArray, *, first: dt.date, last: dt.date) -> WetnessPart:
    """Wet hours of each day with enough hours of leaf wetness readings."""
    wet = wet_hours(wetness)
    measured = np.isfinite(wetness)
    out = []
    for d in range(wetness.size // HOURS_PER_DAY):
        day = slice(d * 24, (d + 1) * 24)
        if measured[day].sum() >= MIN_DAY_HOURS:
            out.append(DayValue(_day(first, d), float(wet[day].sum())))
    return WetnessPart(first, last, tuple(out))


def scab_part(
    wetness: FloatArray,
    temps: FloatArray,
    *,
    start_ms: int,
    first: dt.date,
    last: dt.date,
) -> ScabPart:
    """Apple scab wet periods of each stretch with both leaf wetness and temperature."""
    temps = fill_short_gaps(temps)
    both = np.isfinite(wetness) & np.isfinite(temps)
    fraction = np.clip(np.nan_to_num(wetness, nan=0.0) / PERCENT, 0.0, 1.0)
    times = [
        dt.datetime.fromtimestamp((start_ms + i * MS_PER_HOUR) / 1000, JST)
        for i in range(wetness.size)
    ]
    events = []
    for a, b in runs(both):
        for s in scab_infections(
            fraction[a:b],
            temps[a:b],
            unit=WetnessUnit.FLAG,
            min_wet_fraction=WET_FRACTION,
            times=times[a:b],
        ):
            p = s.period
            events.append(
                ScabEvent(
                    times[a + p.start],
                    # The end is the end of the last wet hour.
                    times[a + p.end] + dt.timedelta(hours=1),
                    p.wet_hours,
                    p.mean_temp_c,
                    s.required_hours,
                    s.infection,
                )
            )
    return ScabPart(first, last, tuple(events))
