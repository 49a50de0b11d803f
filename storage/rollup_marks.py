"""Dirty-hour marks: after a batch is stored, which (series, hour) rollups it made stale.

A mark is a point of `rollup_marks` tagged with the series (and `kind`) and the writer, stamped
with when it was marked, fields `first_ms` and `last_ms`: the first and last hour start of one
run of consecutive hours the batch touched. Marks are never deleted (InfluxDB 2.x's v1 API
has no DELETE): whoever recomputes rollups keeps a watermark of the marking time it has
processed through, and a mark later than the watermark is pending.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

from core.time import MS_PER_HOUR
from storage.batch import SeriesId, WriteBatch
from storage.errors import StoreUnavailableError
from storage.points import Point
from storage.protocol import ReadingStore
from storage.rollups import hour_start, series_tags

MARKS_MEASUREMENT: Final = "rollup_marks"
WRITER: Final = "writer"
FIRST: Final = "first_ms"
LAST: Final = "last_ms"


def hour_runs(times: list[int]) -> list[tuple[int, int]]:
    """Runs of consecutive UTC hours that `times` fall in, as (first, last) hour starts."""
    hours = sorted({hour_start(t) for t in times})
    runs: list[tuple[int, int]] = []
    for hour in hours:
        if runs and runs[-1][1] + MS_PER_HOUR == hour:
            runs[-1] = (runs[-1][0], hour)
        else:
            runs.append((hour, hour))
    return runs


class RollupMarks:
    """Writes the marks of each stored batch; call `after_stored` once the store accepted it."""

    def __init__(
        self, store: ReadingStore, writer: str = "", *, clock: Callable[[], float] = time.time
    ) -> None:
        """Mark in `store`; `writer` (a worker's client id) keeps two workers' marks apart."""
        self._store = store
        self._writer = writer
        self._clock = clock
        # A mark's key is (series, writer, time): each series' marks get strictly later times
        # so that two batches marked in the same millisecond do not overwrite each other.
        self._last_ms: dict[SeriesId, int] = {}

    def after_stored(self, batch: WriteBatch[Any]) -> int:
        """Mark the hours the batch's readings fall in; how many marks were written.

        Raises the store's errors: the caller treats the batch as not stored and writes it
        again (rewriting a point is idempotent), so no stale hour goes unmarked.
        """
        points = []
        now_ms = int(self._clock() * 1000)
        for series, times in sorted(batch.series_times().items()):
            for first, last in hour_runs(times):
                at = max(now_ms, self._last_ms.get(series, 0) + 1)
                self._last_ms[series] = at
                tags = {**series_tags(series), WRITER: self._writer}
                points.append(Point(MARKS_MEASUREMENT, tags, {FIRST: first, LAST: last}, at))
        refused = self._store.write_points(points)
        if refused:
            # Retried as an outage, like the batch: acknowledging it unmarked would leave its
            # hours' rollups stale for good.
            raise StoreUnavailableError(f"rollup marks refused: {refused[0].reason}")
        return len(points)
