"""Hourly and daily rollups of readings: per series and UTC hour or day, count, sum, min, max.

A rollup is a point of `rollup_1h` (`rollup_1d`) stamped with the hour's (UTC day's) start,
tagged with the series' kind (the reading measurement) and tags, fields `count` (integer), `sum`,
`min` and `max` (floats). An hour is recomputed from the raw points of its hour, never updated
in place, so a recomputation after a late point gives what the raw points give; a day is then
recomputed from its hourly rollups (which outlive the raw points' retention). Means are
sum/count; 6-hour buckets are combined from their hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from core.time import MS_PER_DAY, MS_PER_HOUR
from edge.protocol import SensorKind
from storage.batch import SeriesId
from storage.errors import StoreError
from storage.layout import DEVICE, SENSOR, SITE, TENANT
from storage.points import Point
from storage.protocol import ReadingStore
from storage.query import Aggregate, Buckets, Function, Rows, Select, match

ROLLUP_MEASUREMENT: Final = "rollup_1h"
DAY_MEASUREMENT: Final = "rollup_1d"
KIND: Final = "kind"
COUNT: Final = "count"
SUM: Final = "sum"
MIN: Final = "min"
MAX: Final = "max"
FIELDS: Final = (COUNT, SUM, MIN, MAX)
# Raw reads of one series ask for at most this span at a time (a year of hours is 8 760 rows).
RAW_READ_SPAN_MS: Final = 31 * 24 * MS_PER_HOUR


@dataclass(frozen=True, slots=True)
class Hour:
    """What the raw points of one series in one hour add up to."""

    start_ms: int
    count: int
    sum: float
    min: float
    max: float

    def combine(self, other: Hour, start_ms: int) -> Hour:
        """This hour and another as one bucket starting at `start_ms`."""
        return Hour(
            start_ms,
            self.count + other.count,
            self.sum + other.sum,
            min(self.min, other.min),
            max(self.max, other.max),
        )


def hour_start(time_ms: int) -> int:
    """The start of the UTC hour `time_ms` falls in."""
    return time_ms - time_ms % MS_PER_HOUR


def day_start(time_ms: int) -> int:
    """The start (UTC midnight) of the day `time_ms` falls in."""
    return time_ms - time_ms % MS_PER_DAY


def series_match(series: SeriesId, *, with_kind: bool) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The tag filter of one series (with the `kind` tag, for rollups and marks)."""
    tags = {TENANT: series.tenant, SITE: series.site, DEVICE: series.device, SENSOR: series.sensor}
    if with_kind:
        tags[KIND] = series.kind.value
    return match(**tags)


def series_tags(series: SeriesId) -> dict[str, str]:
    """The tags of a rollup or mark point of `series`."""
    return {
        KIND: series.kind.value,
        TENANT: series.tenant,
        SITE: series.site,
        DEVICE: series.device,
        SENSOR: series.sensor,
    }


def raw_hours(store: ReadingStore, series: SeriesId, start_ms: int, end_ms: int) -> list[Hour]:
    """The hours of `series` in [start, end) with raw points, from the raw points."""
    selects = []
    for begin in range(start_ms, end_ms, RAW_READ_SPAN_MS):
        selects.append(
            Select(
                (series.kind.value,),
                series_match(series, with_kind=False),
                aggregates=tuple(Aggregate(Function(f)) for f in FIELDS),
                start_ms=begin,
                end_ms=min(end_ms, begin + RAW_READ_SPAN_MS),
                buckets=Buckets(MS_PER_HOUR),
            )
        )
    hours = []
    for answer in store.rows_each(selects):
        for rows in answer:
            for record in rows.records():
                if record[COUNT]:
                    hours.append(_hour(record))
    return hours


def rolled_hours(store: ReadingStore, select: Select) -> list[Hour]:
    """The rollups a `rollups_select` asks for."""
    return hours_of(store.rows(select))


def hours_of(answer: Sequence[Rows]) -> list[Hour]:
    """The hours of an answer of a `rollups_select`."""
    return [_hour(r) for rows in answer for r in rows.records() if r[COUNT]]


def rollups_select(
    series: SeriesId, start_ms: int, end_ms: int, measurement: str = ROLLUP_MEASUREMENT
) -> Select:
    """The read of the hourly (or `measurement`'s) rollups of `series` in [start, end)."""
    return Select(
        (measurement,),
        series_match(series, with_kind=True),
        fields=FIELDS,
        start_ms=start_ms,
        end_ms=end_ms,
    )


def _hour(record: dict[str, object]) -> Hour:
    """An hour from a row with time, count, sum, min and max."""
    return Hour(
        int(record["time"]),  # type: ignore[call-overload]
        int(record[COUNT]),  # type: ignore[call-overload]
        float(record[SUM]),  # type: ignore[arg-type]
        float(record[MIN]),  # type: ignore[arg-type]
        float(record[MAX]),  # type: ignore[arg-type]
    )


def rollup_points(
    series: SeriesId, hours: Iterable[Hour], measurement: str = ROLLUP_MEASUREMENT
) -> list[Point]:
    """The rollup points of some hours (or days, in `rollup_1d`) of `series`."""
    tags = series_tags(series)
    return [
        Point(
            measurement,
            tags,
            {COUNT: int(h.count), SUM: float(h.sum), MIN: float(h.min), MAX: float(h.max)},
            h.start_ms,
        )
        for h in hours
    ]


def recompute(store: ReadingStore, series: SeriesId, hours: Sequence[tuple[int, int]]) -> int:
    """Recompute the rollups of `series` for runs of hours [first, last] from its raw points,
    then the days they touch from their hours; how many hourly rollups were written. Raises the
    store's errors (nothing is half-done that a second run would not redo)."""
    written = 0
    days: set[int] = set()
    for first, last in hours:
        found = raw_hours(store, series, first, last + MS_PER_HOUR)
        _write(store, rollup_points(series, found))
        written += len(found)
        days.update(range(day_start(first), day_start(last) + 1, MS_PER_DAY))
    for first_day, last_day in _runs(sorted(days), MS_PER_DAY):
        select = rollups_select(series, first_day, last_day + MS_PER_DAY)
        daily: dict[int, Hour] = {}
        for hour in rolled_hours(store, select):
            start = day_start(hour.start_ms)
            known = daily.get(start)
            daily[start] = (
                Hour(start, *_figures(hour)) if known is None else known.combine(hour, start)
            )
        _write(store, rollup_points(series, daily.values(), DAY_MEASUREMENT))
    return written


def _figures(hour: Hour) -> tuple[int, float, float, float]:
    """An hour's count, sum, min and max."""
    return hour.count, hour.sum, hour.min, hour.max


def _runs(starts: list[int], width_ms: int) -> list[tuple[int, int]]:
    """Sorted bucket starts as runs of consecutive buckets (first, last)."""
    runs: list[tuple[int, int]] = []
    for start in starts:
        if runs and runs[-1][1] + width_ms == start:
            runs[-1] = (runs[-1][0], start)
        else:
            runs.append((start, start))
    return runs


def _write(store: ReadingStore, points: list[Point]) -> None:
    """Write rollup points; StoreError if any is refused."""
    refused = store.write_points(points)
    if refused:
        raise StoreError(f"rollups refused: {refused[0].reason}")


def kind_of(value: str) -> SensorKind | None:
    """The sensor kind a `kind` tag names, if it names one."""
    try:
        return SensorKind(value)
    except ValueError:
        return None
