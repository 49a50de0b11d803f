"""Aggregates of 1h, 6h and 1d buckets answered from rollups where they are current.

An hour is read from its rollup when it lies wholly in the range and no mark later than the
watermark names it; the others (pending marks, the current hour, the range's cut edges) are
read from raw points, hour by hour, and the hours are combined into the asked buckets. For 1d
buckets a UTC day wholly in the range with no pending hour is read from its daily rollup, the
other days as above. Counts, minima and maxima equal the raw answer exactly, means to rounding
(sum/count of hourly sums).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.time import MS_PER_DAY, MS_PER_HOUR
from storage.batch import SeriesId
from storage.protocol import ReadingStore
from storage.query import Rows, Select
from storage.rollup_marks import FIRST, LAST, MARKS_MEASUREMENT
from storage.rollup_service import STATE_MEASUREMENT, THROUGH
from storage.rollups import (
    DAY_MEASUREMENT,
    Hour,
    day_start,
    hour_start,
    hours_of,
    raw_hours,
    rollups_select,
    series_match,
)

# Bucket widths that are whole UTC hours dividing a day, so that hours combine into them.
ROLLED_WIDTHS = frozenset({MS_PER_HOUR, 6 * MS_PER_HOUR, 24 * MS_PER_HOUR})


def rolled_aggregates(
    store: ReadingStore,
    series: SeriesId,
    *,
    start_ms: int,
    end_ms: int,
    width_ms: int,
    functions: Sequence[str],
) -> list[dict[str, Any]] | None:
    """Buckets with points in [start, end), each a dict of time and `functions`; None when
    no rollup round has run yet (the caller reads raw points then)."""
    whole_days = width_ms == MS_PER_DAY
    first_day = day_start(start_ms + MS_PER_DAY - 1)
    last_day = day_start(end_ms) - MS_PER_DAY
    if whole_days and first_day <= last_day:
        # Hourly rollups are read only for the cut days at the ends; daily ones in between.
        rolled = rollups_select(series, first_day, last_day + MS_PER_DAY, DAY_MEASUREMENT)
        edges = [(start_ms, first_day), (last_day + MS_PER_DAY, end_ms)]
    else:
        rolled = rollups_select(series, hour_start(start_ms), end_ms)
        edges = []
    state, marks, answer, *edge_answers = store.rows_each(
        [
            Select((STATE_MEASUREMENT,), fields=(THROUGH,)),
            Select(
                (MARKS_MEASUREMENT,), series_match(series, with_kind=True), fields=(FIRST, LAST)
            ),
            rolled,
            *(rollups_select(series, hour_start(a), b) for a, b in edges if a < b),
        ]
    )
    through = [int(r[THROUGH]) for rows in state for r in rows.records() if r[THROUGH]]
    if not through:
        return None
    # Marks are few per series and hour; read all and keep the pending ones here, since the
    # filter on their time would need the watermark read first (a second round trip).
    pending: set[int] = set()
    for rows in marks:
        for r in rows.records():
            if int(r["time"]) > through[0]:
                pending.update(range(int(r[FIRST]), int(r[LAST]) + 1, MS_PER_HOUR))
    if not edges:
        return _buckets(
            _hours(store, series, pending=pending, start_ms=start_ms, end_ms=end_ms, rolled=answer),
            width_ms,
            functions,
        )
    stale = {day_start(h) for h in pending}
    days = [d for d in hours_of(answer) if d.start_ms not in stale]
    spans = [(a, b) for a, b in edges if a < b]
    hours = []
    for (begin, stop), rows in zip(spans, edge_answers, strict=True):
        hours += _hours(store, series, pending=pending, start_ms=begin, end_ms=stop, rolled=rows)
    for day in sorted(stale):
        if first_day <= day <= last_day:
            hours += _hours(
                store, series, pending=pending, start_ms=day, end_ms=day + MS_PER_DAY, rolled=None
            )
    return _buckets(days + hours, width_ms, functions)


def _hours(
    store: ReadingStore,
    series: SeriesId,
    *,
    pending: set[int],
    start_ms: int,
    end_ms: int,
    rolled: Sequence[Rows] | None,
) -> list[Hour]:
    """The hours of [start, end): current whole hours from rollups (`rolled`, read here when
    None), the pending hours and the cut edges from raw points."""
    if rolled is None:
        rolled = store.rows(rollups_select(series, hour_start(start_ms), end_ms))
    first_whole = hour_start(start_ms + MS_PER_HOUR - 1)
    last_whole = hour_start(end_ms) - MS_PER_HOUR
    hours = [
        h
        for h in hours_of(rolled)
        if first_whole <= h.start_ms <= last_whole and h.start_ms not in pending
    ]
    for begin, stop in _raw_spans(pending, start_ms, end_ms, first_whole, last_whole):
        hours += raw_hours(store, series, begin, stop)
    return hours


def _raw_spans(
    pending: set[int], start_ms: int, end_ms: int, first_whole: int, last_whole: int
) -> list[tuple[int, int]]:
    """The spans of [start, end) read from raw points: cut edges and pending whole hours."""
    if last_whole < first_whole:
        return [(start_ms, end_ms)]
    spans = [(start_ms, first_whole)]
    for hour in sorted(h for h in pending if first_whole <= h <= last_whole):
        if spans[-1][1] == hour:
            spans[-1] = (spans[-1][0], hour + MS_PER_HOUR)
        else:
            spans.append((hour, hour + MS_PER_HOUR))
    spans.append((last_whole + MS_PER_HOUR, end_ms))
    return [(a, b) for a, b in spans if a < b]


def _buckets(hours: list[Hour], width_ms: int, functions: Sequence[str]) -> list[dict[str, Any]]:
    """Hours combined into buckets of `width_ms` (UTC-aligned), as the aggregate rows."""
    merged: dict[int, Hour] = {}
    for hour in hours:
        start = hour.start_ms - hour.start_ms % width_ms
        known = merged.get(start)
        merged[start] = hour if known is None else known.combine(hour, start)
    out = []
    for start in sorted(merged):
        bucket = merged[start]
        figures = {
            "mean": bucket.sum / bucket.count,
            "min": bucket.min,
            "max": bucket.max,
            "count": bucket.count,
        }
        out.append({"time": start, **{f: figures[f] for f in functions}})
    return out
