"""One window of an export as columns: its series, times, values and ingest's flags.

Built from the store's answer for the window: the values of each series as arrays, and the
few points that carry a flag field (`storage.layout`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.protocol import SensorKind
from storage.catalogue import SeriesKey
from storage.layout import DEVICE, GAP_FIELD, SENSOR, SHIFT_FIELD, SITE
from storage.query import Rows, SeriesColumns

# An export window: each series' values, and the points that have a flag field.
Window = tuple[list[SeriesColumns], list[Rows]]


@dataclass(frozen=True, slots=True)
class ExportBatch:
    """One window of an export: its series, and its rows in order as columns.

    Row i is at `times[i]` (ms), of series `series[index[i]]`, with `values[i]`; its point was
    shifted by ingest's clock correction if `clock_corrected[i]`, and came in a batch after
    missing batch numbers if `sequence_gap[i]` (see `storage.layout`). Arrays rather than an
    object per row: a million rows must be cheap to sort and encode.
    """

    series: list[SeriesKey]
    times: npt.NDArray[np.int64]
    index: npt.NDArray[np.int32]
    values: npt.NDArray[np.float64]
    clock_corrected: npt.NDArray[np.bool_]
    sequence_gap: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        """The number of rows."""
        return len(self.times)


def export_batch(series: list[SeriesColumns], flagged: Sequence[Rows] = ()) -> ExportBatch:
    """Rows of `series` ordered by time, then kind, site, device and sensor, with their flags."""
    found = sorted(((_columns_key(s), s) for s in series), key=_key_order_kind)
    times = np.concatenate([s.times for _, s in found])
    index = np.concatenate([np.full(len(s.times), i, np.int32) for i, (_, s) in enumerate(found)])
    values = np.concatenate([s.values for _, s in found])
    shifted = np.zeros(len(times), np.bool_)
    gapped = np.zeros(len(times), np.bool_)
    starts = np.cumsum([0] + [len(s.times) for _, s in found])
    position = {key: i for i, (key, _) in enumerate(found)}
    for rows in flagged:
        at = position.get(series_key(rows))
        if at is None:
            continue
        own = times[starts[at] : starts[at + 1]]
        records = list(rows.records())
        stamps = np.array([int(r["time"]) for r in records], np.int64)
        # Flagged points are few: find each among the series' sorted times.
        where = starts[at] + np.searchsorted(own, stamps)
        known = (where < starts[at + 1]) & (times[np.minimum(where, len(times) - 1)] == stamps)
        shift = np.array([bool(r.get(SHIFT_FIELD)) for r in records], np.bool_)
        gap = np.array([bool(r.get(GAP_FIELD)) for r in records], np.bool_)
        shifted[where[known & shift]] = True
        gapped[where[known & gap]] = True
    # Each series is in time order and series are in key order: a stable sort by time alone
    # gives (time, series), and finds the runs already sorted.
    order = np.argsort(times, kind="stable")
    return ExportBatch(
        [key for key, _ in found],
        times[order],
        index[order],
        values[order],
        shifted[order],
        gapped[order],
    )


def series_key(series: Rows) -> SeriesKey:
    """The series of one group of an answer grouped by the series tags."""
    tags = series.tags
    return SeriesKey(SensorKind(series.measurement), tags[SITE], tags[DEVICE], tags[SENSOR])


def _columns_key(series: SeriesColumns) -> SeriesKey:
    tags = series.tags
    return SeriesKey(SensorKind(series.name), tags[SITE], tags[DEVICE], tags[SENSOR])


def _key_order_kind(item: tuple[SeriesKey, Any]) -> tuple[str, str, str, str]:
    key = item[0]
    return (key.kind.value, key.site, key.device, key.sensor)
