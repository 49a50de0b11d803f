"""Query options applied: to a list of entities, or to the points of Datastreams in the store.

Observations are never read in full when the store can answer: a filter of nothing but
`phenomenonTime` bounds, ordered by time, becomes the store's range, order, limit and offset.
Any other filter reads the points within its time bounds (at most `MAX_SCAN`) and decides.
"""

from __future__ import annotations

import datetime as dt
import heapq
from dataclasses import dataclass
from typing import Any

from core.time import from_ms
from dashboard.sta import entities as ent
from dashboard.sta.entities import Entity
from dashboard.sta.ids import tenant_of
from dashboard.sta.odata import QueryOptionError, evaluate, only_time, properties, time_bounds
from dashboard.sta.options import Options
from dashboard.sta.vector import mask
from edge.protocol import MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS
from storage.catalogue import SeriesKey
from storage.observations import series_arrays, series_count, series_points

MAX_SCAN = 1_000_000
_TIME_PROPS = ("phenomenonTime", "resultTime")
_OBSERVATION_ORDER = frozenset({"phenomenonTime", "resultTime", "result", "id", "@iot.id"})


@dataclass(frozen=True)
class Page:
    """One page of a collection: its entities, the total if asked, and whether more follow."""

    items: list[Entity]
    count: int | None
    more: bool


def _sort_key(value: Any) -> tuple[int, Any]:
    # Nulls first, then values of one type compare among themselves.
    if value is None:
        return (0, 0)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (1, value)
    if isinstance(value, dt.datetime):
        return (2, value)
    return (3, str(value))


def entity_page(items: list[Entity], options: Options) -> Page:
    """Filter, order, count and page a list of entities."""
    if options.filter is not None:
        items = [e for e in items if evaluate(options.filter, e.get) is True]
    for prop, descending in reversed(options.orderby):
        items = sorted(items, key=lambda e, p=prop: _sort_key(e.get(p)), reverse=descending)
    count = len(items) if options.count else None
    window = items[options.skip : options.skip + options.top]
    return Page(window, count, options.skip + options.top < len(items))


def _check_observation_options(options: Options) -> None:
    """Refuse, before reading anything, what Observations cannot be filtered or ordered by."""
    unknown = sorted(properties(options.filter) - _OBSERVATION_ORDER)
    if unknown:
        raise QueryOptionError(
            f"$filter on Observations: {', '.join(map(repr, unknown))} not supported "
            "(phenomenonTime, resultTime, result, id)"
        )
    for prop, _ in options.orderby:
        if prop not in _OBSERVATION_ORDER:
            raise QueryOptionError(
                f"$orderby on Observations: {prop!r} is not supported "
                "(phenomenonTime, resultTime, result, id)"
            )


def _time_filter(options: Options) -> bool:
    """Whether the filter is only time bounds and the order only by time: the store answers."""
    time_order = all(p in _TIME_PROPS for p, _ in options.orderby[:1]) and len(options.orderby) <= 1
    filt = options.filter
    plain = only_time(filt, "phenomenonTime") or only_time(filt, "resultTime")
    return time_order and plain


def observation_page(store: Any, series: list[tuple[str, SeriesKey]], options: Options) -> Page:
    """A page of the Observations of `series` (each of its Datastream id's tenant), in time
    order unless ordered otherwise."""
    _check_observation_options(options)
    bounds = time_bounds(options.filter, "phenomenonTime")
    result_bounds = time_bounds(options.filter, "resultTime")
    # resultTime is phenomenonTime here: either bounds the same store range, which never
    # reaches past the times a reading may have (nothing is stored outside them).
    starts = (bounds.start_ms, result_bounds.start_ms, MIN_TIMESTAMP_MS)
    ends = (bounds.end_ms, result_bounds.end_ms, MAX_TIMESTAMP_MS + 1)
    start = max(b for b in starts if b is not None)
    end = min(b for b in ends if b is not None)
    if start >= end:
        return Page([], 0 if options.count else None, False)
    descending = bool(options.orderby) and options.orderby[0][1]
    common = {"start_ms": start, "end_ms": end}
    if _time_filter(options):
        return _pushed_down(store, series, options, common, descending=descending)
    points: list[tuple[int, float, str, SeriesKey]] = []
    scanned = 0
    for datastream_id, key in series:
        times, values = series_arrays(
            store, tenant=tenant_of(datastream_id), key=key, limit=MAX_SCAN + 1, **common
        )
        scanned += len(times)
        if scanned > MAX_SCAN:
            raise QueryOptionError(
                f"the filter would read more than {MAX_SCAN} points: bound phenomenonTime"
            )
        kept = None if options.filter is None else mask(options.filter, times, values)
        if kept is not None:
            times, values = times[kept], values[kept]
        run = [(int(t), float(v), datastream_id, key) for t, v in zip(times, values, strict=True)]
        if options.filter is not None and kept is None:
            # Not a vectorised shape: each point is decided by the evaluator itself.
            run = [p for p in run if evaluate(options.filter, _getter(p)) is True]
        points.extend(run)
    points.sort(key=lambda p: (p[0], p[2]))
    for prop, desc in reversed(options.orderby):
        points.sort(key=lambda p, q=prop: _sort_key(_getter(p)(q)), reverse=desc)
    count = len(points) if options.count else None
    window = points[options.skip : options.skip + options.top]
    items = [ent.observation(d, k, t, v) for t, v, d, k in window]
    return Page(items, count, options.skip + options.top < len(points))


def _getter(point: tuple[int, float, str, SeriesKey]) -> Any:
    time_ms, value, datastream_id, _ = point

    def get(prop: str) -> Any:
        if prop in _TIME_PROPS:
            return from_ms(time_ms)
        if prop == "result":
            return value
        if prop in ("id", "@iot.id"):
            return f"{datastream_id}~{time_ms}"
        raise QueryOptionError(
            f"$filter on Observations: {prop!r} is not supported (phenomenonTime, resultTime, "
            "result, id)"
        )

    return get


def _pushed_down(
    store: Any,
    series: list[tuple[str, SeriesKey]],
    options: Options,
    common: dict[str, Any],
    *,
    descending: bool,
) -> Page:
    """The page read by the store itself: range, order, limit and offset."""
    count = (
        sum(series_count(store, tenant=tenant_of(d), key=k, **common) for d, k in series)
        if options.count
        else None
    )
    if len(series) == 1:
        datastream_id, key = series[0]
        read = series_points(
            store,
            tenant=tenant_of(datastream_id),
            key=key,
            limit=options.top + 1,
            offset=options.skip,
            descending=descending,
            **common,
        )
        items = [ent.observation(datastream_id, key, t, v) for t, v in read[: options.top]]
        return Page(items, count, len(read) > options.top)
    # Several series: each gives its first skip + top + 1 in order, and they are merged.
    wanted = options.skip + options.top + 1
    if wanted > MAX_SCAN:
        raise QueryOptionError(
            f"$skip + $top over several Datastreams may be at most {MAX_SCAN}: "
            "bound phenomenonTime or page one Datastream"
        )
    runs = []
    for datastream_id, key in series:
        read = series_points(
            store,
            tenant=tenant_of(datastream_id),
            key=key,
            limit=wanted,
            descending=descending,
            **common,
        )
        runs.append([(t, datastream_id, v, key) for t, v in read])
    merged = list(heapq.merge(*runs, key=lambda p: (p[0], p[1]), reverse=descending))
    window = merged[options.skip : options.skip + options.top]
    items = [ent.observation(d, k, t, v) for t, d, v, k in window]
    return Page(items, count, len(merged) > options.skip + options.top)
