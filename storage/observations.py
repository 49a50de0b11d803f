"""Points of one series a page at a time, in either order, and their count, for the STA API.

The SensorThings routes page with an offset and read newest first as often as oldest first,
which the readings route (cursor paging, oldest first) does not need. A page is read from
where it starts, a window of time at a time (`storage.seriesread`), so that a long series is
never read in full, nor walked to its offset, to answer one page.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from storage.catalogue import SeriesKey
from storage.layout import READING_MEASUREMENTS, SERIES_TAGS, VALUE
from storage.protocol import ReadingStore
from storage.query import Aggregate, Function, Select, match
from storage.readings import from_store, rows_of
from storage.seriesread import Span, columns_of, read_span


def _where(tenant: str, key: SeriesKey) -> dict[str, object]:
    return {
        "measurements": (key.kind.value,),
        "where": match(tenant=tenant, site=key.site, device=key.device, sensor=key.sensor),
    }


def series_points(
    store: ReadingStore,
    *,
    tenant: str,
    key: SeriesKey,
    start_ms: int | None,
    end_ms: int | None,
    limit: int | None = None,
    offset: int = 0,
    descending: bool = False,
) -> list[tuple[int, float]]:
    """Points (ms, value) of one series in [start, end), in time order, a page of them."""
    if limit is not None and start_ms is not None and end_ms is not None:
        # A page: read in windows of time from where it starts (`storage.seriesread`).
        where = match(tenant=tenant, site=key.site, device=key.device, sensor=key.sensor)
        span = Span(key.kind.value, where, start_ms, end_ms, descending)
        times, values = read_span(store, span, limit=limit, offset=offset)
    else:
        select = Select(
            fields=(VALUE,),
            start_ms=start_ms,
            end_ms=end_ms,
            limit=limit,
            offset=offset,
            descending=descending,
            **_where(tenant, key),  # type: ignore[arg-type]
        )
        times, values = columns_of(store, select)
    # Lists of Python numbers at once: far cheaper than converting point by point.
    return list(zip(times.tolist(), values.tolist(), strict=True))


def series_count(
    store: ReadingStore, *, tenant: str, key: SeriesKey, start_ms: int | None, end_ms: int | None
) -> int:
    """How many points one series has in [start, end)."""
    select = Select(
        aggregates=(Aggregate(Function.COUNT),),
        start_ms=start_ms,
        end_ms=end_ms,
        **_where(tenant, key),  # type: ignore[arg-type]
    )
    return sum(int(row[1] or 0) for rows in rows_of(store, select) for row in rows.values)


def first_times(store: ReadingStore, tenant: str) -> dict[tuple[str, str, str, str], int]:
    """The time (ms) of the oldest point of each series, by (kind, site, device, sensor)."""
    # One read for every series: the limit counts within each group.
    select = Select(
        READING_MEASUREMENTS,
        match(tenant=tenant),
        fields=(VALUE,),
        group_by=SERIES_TAGS,
        limit=1,
    )
    answer = from_store(lambda: store.rows(select), [])
    return {
        (r.measurement, r.tags["site"], r.tags["device"], r.tags["sensor"]): int(r.values[0][0])
        for r in answer
        if r.values
    }


def series_arrays(
    store: ReadingStore,
    *,
    tenant: str,
    key: SeriesKey,
    start_ms: int | None,
    end_ms: int | None,
    limit: int | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Times (ms) and values of one series in [start, end), oldest first, as arrays."""
    select = Select(
        fields=(VALUE,),
        start_ms=start_ms,
        end_ms=end_ms,
        limit=limit,
        **_where(tenant, key),  # type: ignore[arg-type]
    )
    return columns_of(store, select)
