"""Daily rollups: written with the hours a round recomputes, read for whole UTC days, and a
late point into a rolled day answers as the raw points do while pending and after its round."""

from __future__ import annotations

import random
import uuid

from support import assert_same_aggregates

from core.time import MS_PER_DAY, MS_PER_HOUR
from edge.protocol import DeviceTopic, Reading, SensorKind
from storage.batch import SeriesId
from storage.protocol import ReadingStore
from storage.readings import AggregateFunction, Interval, Reader, SeriesKey
from storage.rollup_marks import RollupMarks
from storage.rollup_service import run_round
from storage.rollups import DAY_MEASUREMENT, rolled_hours, rollups_select

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
AIR = SensorKind.AIR_TEMPERATURE
DAYS = 4
CLOCK = [T0 / 1000 + 30 * 86_400]


def test_daily_rollups_follow_late_points_and_equal_the_raw_days(store: ReadingStore) -> None:
    """Four days rolled; late points into day 2 (pending, then rolled): 1d answers over whole
    and cut ranges equal the raw ones, and day 2's daily rollup counts the late points."""
    tenant = f"t{uuid.uuid4().hex[:10]}"
    topic = DeviceTopic(tenant, "plot", "logger")
    series = SeriesId(AIR, tenant, "plot", "logger", "t")
    key = SeriesKey(AIR, "plot", "logger", "t")
    rng = random.Random(23)
    now = CLOCK
    marks = RollupMarks(store, "w1", clock=lambda: now[0])
    raw, rolled = Reader(store), Reader(store, rollups=True)
    first = sorted(rng.sample(range(T0, T0 + DAYS * MS_PER_DAY), 500))
    late = [T0 + MS_PER_DAY + rng.randrange(MS_PER_DAY) for _ in range(30)]
    ranges = ((T0, T0 + DAYS * MS_PER_DAY), (T0 + 7 * MS_PER_HOUR + 11, T0 + 3 * MS_PER_DAY + 5))
    for part in (first, late):
        batch = store.new_batch()
        batch.add_readings(topic, [Reading("t", AIR, t, rng.uniform(-20, 35)) for t in part])
        assert not store.write_batch(batch)
        marks.after_stored(batch)
        for _ in range(2):  # with the marks pending, then rolled
            for start, end in ranges:
                ask = {
                    "start_ms": start,
                    "end_ms": end,
                    "interval": Interval.DAY,
                    "functions": list(AggregateFunction),
                }
                assert_same_aggregates(
                    rolled.aggregates(tenant, key, **ask), raw.aggregates(tenant, key, **ask)
                )
            now[0] += 600
            run_round(store, lag_s=300, clock=lambda: now[0])
    days = rolled_hours(store, rollups_select(series, T0, T0 + DAYS * MS_PER_DAY, DAY_MEASUREMENT))
    assert [d.start_ms for d in days] == [T0 + i * MS_PER_DAY for i in range(DAYS)]
    second = sum(1 for t in first if T0 + MS_PER_DAY <= t < T0 + 2 * MS_PER_DAY)
    assert days[1].count == second + len(late)
