"""A rebuild rolls up points no mark names (stored before marks existed, or by a backfill):
afterwards the rollup reader's 1h, 6h and 1d answers equal the raw ones, on InfluxDB and SQLite.
"""

from __future__ import annotations

import math
import random
import uuid

from core.time import MS_PER_DAY, MS_PER_HOUR
from edge.protocol import DeviceTopic, SensorKind
from storage.batch import ChannelReadings, SeriesId
from storage.protocol import ReadingStore
from storage.readings import AggregateFunction, Interval, Reader, SeriesKey
from storage.rollup_rebuild import rebuild, stored_series
from storage.rollup_service import run_round
from storage.rollups import rolled_hours, rollups_select

T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z
AIR = SensorKind.AIR_TEMPERATURE
SPAN = 3 * MS_PER_DAY


def _store_unmarked(store: ReadingStore, tenant: str, seed: int) -> list[SeriesKey]:
    """Random readings of two sensors over three days, written without marks."""
    rng = random.Random(seed)
    topic = DeviceTopic(tenant, "plot", "logger")
    keys = []
    for sensor in ("t1", "t2"):
        times = sorted(rng.sample(range(T0, T0 + SPAN), 300))
        values = [rng.uniform(-30, 40) for _ in times]
        assert not store.write_channel(ChannelReadings(topic, sensor, AIR, times, values))
        keys.append(SeriesKey(AIR, "plot", "logger", sensor))
    return keys


def _equal(got: list[dict[str, object]], want: list[dict[str, object]]) -> None:
    """Same buckets; counts, minima and maxima equal, means to 1e-9."""
    assert [r["time"] for r in got] == [r["time"] for r in want]
    for mine, theirs in zip(got, want, strict=True):
        assert mine.keys() == theirs.keys()
        for name, value in theirs.items():
            if name == "mean":
                assert math.isclose(mine[name], value, rel_tol=1e-9, abs_tol=1e-9)  # type: ignore[arg-type]
            else:
                assert mine[name] == value


def test_a_rebuild_rolls_up_unmarked_points_and_rollup_reads_equal_raw_reads(
    store: ReadingStore,
) -> None:
    """Unmarked points are missing from rollups until a rebuild; then every answer equals raw."""
    tenant = f"t{uuid.uuid4().hex[:10]}"
    keys = _store_unmarked(store, tenant, seed=3)
    run_round(store, lag_s=0)  # a watermark exists: the rollup reader trusts rollups
    series = [SeriesId(AIR, tenant, k.site, k.device, k.sensor) for k in keys]
    assert stored_series(store, start_ms=T0, end_ms=T0 + SPAN, tenant=tenant) == series
    raw, rolled = Reader(store), Reader(store, rollups=True)
    ask = {
        "start_ms": T0,
        "end_ms": T0 + SPAN,
        "interval": Interval.DAY,
        "functions": list(AggregateFunction),
    }
    # Before the rebuild no rollup holds these points: the rollup answer is short.
    assert sum(r["count"] for r in rolled.aggregates(tenant, keys[0], **ask)) == 0
    report = rebuild(store, start_ms=T0, end_ms=T0 + SPAN, tenant=tenant)
    hours = rolled_hours(store, rollups_select(series[0], T0, T0 + SPAN))
    assert report.series == 2
    assert report.rollups == len(hours) + len(
        rolled_hours(store, rollups_select(series[1], T0, T0 + SPAN))
    )
    assert sum(h.count for h in hours) == 300
    for key in keys:
        for interval in (Interval.HOUR, Interval.SIX_HOURS, Interval.DAY):
            for start, end in ((T0, T0 + SPAN), (T0 + 5 * MS_PER_HOUR + 7, T0 + SPAN - 1234)):
                want = {**ask, "interval": interval, "start_ms": start, "end_ms": end}
                _equal(rolled.aggregates(tenant, key, **want), raw.aggregates(tenant, key, **want))


def test_a_rebuild_of_a_range_leaves_hours_outside_it_alone(store: ReadingStore) -> None:
    """Only the hours touching [since, until) are rolled up."""
    tenant = f"t{uuid.uuid4().hex[:10]}"
    keys = _store_unmarked(store, tenant, seed=5)
    since, until = T0 + MS_PER_DAY, T0 + 2 * MS_PER_DAY
    rebuild(store, start_ms=since, end_ms=until, tenant=tenant)
    series = SeriesId(AIR, tenant, keys[0].site, keys[0].device, keys[0].sensor)
    starts = {h.start_ms for h in rolled_hours(store, rollups_select(series, T0, T0 + SPAN))}
    assert starts
    assert all(since <= s < until for s in starts)
