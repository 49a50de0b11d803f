"""Rebuild of hourly rollups from raw points for every series with points in a range.

For data no mark names: points stored before marks existed, and writers that store many
points at once (a backfill) and then rebuild their range instead of marking each batch.
Recomputing an hour is idempotent, so a rebuild may overlap a round or another rebuild.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.time import MS_PER_HOUR
from storage.batch import SeriesId
from storage.layout import DEVICE, READING_MEASUREMENTS, SENSOR, SITE, TENANT
from storage.protocol import ReadingStore
from storage.query import Aggregate, Function, Select, match
from storage.rollups import hour_start, kind_of, recompute

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RebuildReport:
    """What a rebuild did: series found in the range and hourly rollups written."""

    series: int
    rollups: int


def stored_series(
    store: ReadingStore, *, start_ms: int, end_ms: int, tenant: str | None = None
) -> list[SeriesId]:
    """Every series (of `tenant`, or of all tenants) with raw points in [start, end)."""
    answer = store.rows(
        Select(
            READING_MEASUREMENTS,
            match(tenant=tenant),
            aggregates=(Aggregate(Function.COUNT),),
            start_ms=start_ms,
            end_ms=end_ms,
            group_by=(TENANT, SITE, DEVICE, SENSOR),
        )
    )
    found = set()
    for rows in answer:
        kind = kind_of(rows.measurement)
        if kind is None or not any(r[Function.COUNT.value] for r in rows.records()):
            continue
        tags = rows.tags
        found.add(SeriesId(kind, tags[TENANT], tags[SITE], tags[DEVICE], tags[SENSOR]))
    return sorted(found)


def rebuild(
    store: ReadingStore, *, start_ms: int, end_ms: int, tenant: str | None = None
) -> RebuildReport:
    """Recompute every hour touching [start, end) of every series with points there.

    Raises the store's errors; a failed rebuild is simply run again.
    """
    first, last = hour_start(start_ms), hour_start(end_ms - 1)
    series = stored_series(store, start_ms=first, end_ms=last + MS_PER_HOUR, tenant=tenant)
    written = sum(recompute(store, s, [(first, last)]) for s in series)
    log.info("rebuilt %d hourly rollups of %d series", written, len(series))
    return RebuildReport(len(series), written)
