"""Rows with provenance: ingest's flags, the gap before each reading, and the site's coordinates.

`clock_corrected` and `sequence_gap` come from the flag fields ingest stores on a point
(`storage.layout`); `gap_before_ms` is computed here, as the rows stream, from the times alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from storage.assets import Registry, read_assets
from storage.catalogue import SeriesKey
from storage.exportwindow import ExportBatch
from storage.protocol import ReadingStore
from storage.readings import from_store

# A reading is after a gap when the time since the previous one of its series exceeds this many
# median intervals of the series (a missed reading or two at most is not a gap).
GAP_FACTOR = 3
# The median is of the series' intervals in the current window and up to this many before it:
# enough to be robust to a few gaps, few enough to follow a device whose interval was changed.
GAP_HISTORY = 1_024


@dataclass(frozen=True, slots=True)
class Place:
    """Where a registered site is: WGS 84 degrees and metres above sea level."""

    latitude: float
    longitude: float
    elevation_m: float


@dataclass(frozen=True, slots=True)
class ProvenanceBatch:
    """An export window with, per row, the gap before it (ms, 0: none) and, per series, its
    site's place (None: the site is not registered)."""

    batch: ExportBatch
    gap_before_ms: npt.NDArray[np.int64]
    places: list[Place | None]

    def __len__(self) -> int:
        """The number of rows."""
        return len(self.batch)


def site_places(registry: Registry, sites: Sequence[str] = ()) -> dict[str, Place]:
    """The places of the registry's sites (of `sites`, if given)."""
    return {
        site: Place(asset.latitude, asset.longitude, asset.altitude_m)
        for site, asset in registry.sites.items()
        if not sites or site in sites
    }


def read_places(store: ReadingStore, tenant: str, sites: Sequence[str] = ()) -> dict[str, Place]:
    """The places of the tenant's registered sites, read from the store."""
    return site_places(from_store(lambda: read_assets(store, tenant, sites), Registry()), sites)


@dataclass
class GapFinder:
    """Finds, window after window, readings that follow a gap in their series."""

    _last: dict[SeriesKey, int] = field(default_factory=dict)
    _intervals: dict[SeriesKey, npt.NDArray[np.int64]] = field(default_factory=dict)

    def gaps(self, batch: ExportBatch) -> npt.NDArray[np.int64]:
        """Per row: ms since the previous reading of its series if beyond the gap, else 0."""
        out = np.zeros(len(batch), np.int64)
        # Grouping rows by series keeps each series' rows in time order (a stable sort).
        order = np.argsort(batch.index, kind="stable")
        bounds = np.cumsum(np.bincount(batch.index, minlength=len(batch.series)))
        begin = 0
        for i, key in enumerate(batch.series):
            rows = order[begin : bounds[i]]
            begin = int(bounds[i])
            if not len(rows):
                continue
            times = batch.times[rows]
            previous = self._last.get(key)
            if previous is None:
                intervals, targets = np.diff(times), rows[1:]
            else:
                intervals, targets = np.diff(times, prepend=previous), rows
            pool = np.concatenate([self._intervals.get(key, np.zeros(0, np.int64)), intervals])
            if len(pool):
                wide = intervals > GAP_FACTOR * np.median(pool)
                out[targets[wide]] = intervals[wide]
            self._intervals[key] = pool[-GAP_HISTORY:]
            self._last[key] = int(times[-1])
        return out


def with_provenance(
    batches: Iterable[ExportBatch], places: dict[str, Place]
) -> Iterator[ProvenanceBatch]:
    """Each window with its gaps and its series' places."""
    finder = GapFinder()
    for batch in batches:
        yield ProvenanceBatch(
            batch, finder.gaps(batch), [places.get(key.site) for key in batch.series]
        )
