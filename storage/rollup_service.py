"""One round of rolling up: the marks after the watermark, their hours recomputed, the
watermark moved on.

The watermark (field `marks_through_ms` of the one `rollup_state` point, stamped 0) is the
marking time every mark up to which has been processed. A round processes marks stamped up to
`lag_s` before now only: a mark is written after its batch, and one stamped just before the
round may not be readable yet. Marks are never deleted; the watermark is all that moves.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from storage.batch import SeriesId
from storage.layout import DEVICE, SENSOR, SITE, TENANT
from storage.points import Point
from storage.protocol import ReadingStore
from storage.query import Select
from storage.rollup_marks import FIRST, LAST, MARKS_MEASUREMENT
from storage.rollups import KIND, kind_of, recompute

log = logging.getLogger(__name__)

STATE_MEASUREMENT: Final = "rollup_state"
THROUGH: Final = "marks_through_ms"
DEFAULT_LAG_S: Final = 120.0


@dataclass(frozen=True, slots=True)
class RoundReport:
    """What one round did: marks read, rollups written, the watermark it left."""

    marks: int
    rollups: int
    through_ms: int


def watermark(store: ReadingStore) -> int:
    """The marking time through which marks are processed (0 before the first round)."""
    answer = store.rows(Select((STATE_MEASUREMENT,), fields=(THROUGH,)))
    found = [int(r[THROUGH]) for rows in answer for r in rows.records() if r[THROUGH] is not None]
    return max(found, default=0)


def pending_runs(
    store: ReadingStore, after_ms: int, through_ms: int
) -> dict[SeriesId, set[tuple[int, int]]]:
    """The hour runs of each series marked in (after, through]."""
    answer = store.rows(
        Select(
            (MARKS_MEASUREMENT,),
            fields=(FIRST, LAST),
            start_ms=after_ms + 1,
            end_ms=through_ms + 1,
            group_by=(KIND, TENANT, SITE, DEVICE, SENSOR),
        )
    )
    out: dict[SeriesId, set[tuple[int, int]]] = {}
    for rows in answer:
        kind = kind_of(rows.tags.get(KIND, ""))
        if kind is None:
            continue
        tags = rows.tags
        series = SeriesId(kind, tags[TENANT], tags[SITE], tags[DEVICE], tags[SENSOR])
        runs = out.setdefault(series, set())
        runs.update((int(r[FIRST]), int(r[LAST])) for r in rows.records())
    return out


def run_round(
    store: ReadingStore, *, lag_s: float = DEFAULT_LAG_S, clock: Callable[[], float] = time.time
) -> RoundReport:
    """Recompute every hour marked since the watermark (up to `lag_s` ago), then move it on.

    Raises the store's errors; the watermark moves only after every rollup is written, so a
    failed round is done again in full by the next.
    """
    after = watermark(store)
    through = max(after, int((clock() - lag_s) * 1000))
    pending = pending_runs(store, after, through)
    written = 0
    for series, runs in sorted(pending.items()):
        written += recompute(store, series, sorted(runs))
    store.write_points([Point(STATE_MEASUREMENT, {}, {THROUGH: through}, 0)])
    marks = sum(len(r) for r in pending.values())
    log.info("rolled up %d marked runs into %d hourly rollups", marks, written)
    return RoundReport(marks, written, through)
