"""Hourly rollups equal what the raw points give, on InfluxDB and SQLite (conftest's `store`).

Random readings, rolled up, then late and backfilled points into hours already rolled: after
the marked hours are recomputed, every hour's count, sum, min and max equal the raw ones.
"""

from __future__ import annotations

import math
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.time import MS_PER_HOUR
from edge.protocol import DeviceTopic, Reading, SensorKind
from storage.batch import SeriesId
from storage.protocol import ReadingStore
from storage.query import Aggregate, Buckets, Function, Select, match
from storage.readings import AggregateFunction, Interval, Reader, SeriesKey
from storage.rollup_marks import FIRST, LAST, MARKS_MEASUREMENT, RollupMarks, hour_runs
from storage.rollup_service import run_round, watermark
from storage.rollups import raw_hours, recompute, rolled_hours, rollups_select

T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z
AIR = SensorKind.AIR_TEMPERATURE
SPAN = 12 * MS_PER_HOUR

offsets = st.lists(st.integers(0, SPAN - 1), min_size=1, max_size=40, unique=True)
values = st.floats(-50, 50, allow_nan=False)
Hourly = tuple[int, float, float, float]


def _raw(store: ReadingStore, tenant: str) -> dict[int, tuple[int, float, float, float]]:
    """Each hour's count, sum, min and max as the store computes them from raw points."""
    answer = store.rows(
        Select(
            (AIR.value,),
            match(tenant=tenant),
            aggregates=tuple(Aggregate(Function(f)) for f in ("count", "sum", "min", "max")),
            start_ms=T0,
            end_ms=T0 + SPAN,
            buckets=Buckets(MS_PER_HOUR),
        )
    )
    return {
        int(r["time"]): (int(r["count"]), float(r["sum"]), float(r["min"]), float(r["max"]))
        for rows in answer
        for r in rows.records()
        if r["count"]
    }


def _rolled(store: ReadingStore, series: SeriesId) -> dict[int, tuple[int, float, float, float]]:
    """Each rolled hour's count, sum, min and max."""
    hours = rolled_hours(store, rollups_select(series, T0, T0 + SPAN))
    return {h.start_ms: (h.count, h.sum, h.min, h.max) for h in hours}


def _marked_runs(store: ReadingStore, tenant: str) -> list[tuple[int, int]]:
    """The hour runs of every mark written for the tenant."""
    answer = store.rows(Select((MARKS_MEASUREMENT,), match(tenant=tenant), fields=(FIRST, LAST)))
    return [(int(r[FIRST]), int(r[LAST])) for rows in answer for r in rows.records()]


def _assert_equal(got: dict[int, Hourly], want: dict[int, Hourly]) -> None:
    """Same hours; counts, minima and maxima equal, sums to 1e-9."""
    assert got.keys() == want.keys()
    for hour, (count, total, low, high) in want.items():
        assert got[hour][0] == count
        assert math.isclose(got[hour][1], total, rel_tol=1e-9, abs_tol=1e-9)
        assert (got[hour][2], got[hour][3]) == (low, high)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first=st.lists(st.tuples(st.integers(0, SPAN - 1), values), min_size=1, max_size=40),
    late=st.lists(st.tuples(st.integers(0, SPAN - 1), values), min_size=1, max_size=20),
)
def test_rollups_recomputed_from_marks_equal_the_raw_hours(
    store: ReadingStore, first: list[tuple[int, float]], late: list[tuple[int, float]]
) -> None:
    """Rolled after a first write, then late points (some overwriting): marks name their hours,
    and recomputing them brings every hour back to what the raw points give."""
    tenant = f"t{uuid.uuid4().hex[:10]}"
    topic = DeviceTopic(tenant, "plot", "logger")
    series = SeriesId(AIR, tenant, "plot", "logger", "t")
    marks = RollupMarks(store, "w1")
    for part in (first, late):
        batch = store.new_batch()
        batch.add_readings(topic, [Reading("t", AIR, T0 + at, v) for at, v in part])
        assert not store.write_batch(batch)
        assert marks.after_stored(batch) == len(hour_runs([T0 + at for at, _ in part]))
        for run in _marked_runs(store, tenant):
            recompute(store, series, [run])
        _assert_equal(_rolled(store, series), _raw(store, tenant))
    assert {h.start_ms for h in raw_hours(store, series, T0, T0 + SPAN)} == set(_raw(store, tenant))


def test_hour_runs_join_consecutive_hours_only() -> None:
    """Times in hours 0, 1 and 3 are two runs; a time on the hour belongs to the hour it starts."""
    times = [T0 + 5, T0 + MS_PER_HOUR, T0 + 2 * MS_PER_HOUR - 1, T0 + 3 * MS_PER_HOUR]
    assert hour_runs(times) == [(T0, T0 + MS_PER_HOUR), (T0 + 3 * MS_PER_HOUR,) * 2]


def test_two_batches_marked_in_one_millisecond_keep_both_marks(store: ReadingStore) -> None:
    """A frozen clock: the second mark of a series is stamped 1 ms later, not overwritten."""
    tenant = f"t{uuid.uuid4().hex[:10]}"
    topic = DeviceTopic(tenant, "plot", "logger")
    marks = RollupMarks(store, "w1", clock=lambda: T0 / 1000)
    for hour in (0, 5):
        batch = store.new_batch()
        batch.add_readings(topic, [Reading("t", AIR, T0 + hour * MS_PER_HOUR, 1.0)])
        assert not store.write_batch(batch)
        marks.after_stored(batch)
    hours = [(T0 + h * MS_PER_HOUR,) * 2 for h in (0, 5)]
    assert sorted(_marked_runs(store, tenant)) == hours


def test_a_round_rolls_what_was_marked_before_the_lag_and_moves_the_watermark(
    store: ReadingStore,
) -> None:
    """Marks older than the lag are rolled and the watermark passes them; a mark newer than
    the lag stays pending until a later round, which then rolls the late point too."""
    tenant = f"t{uuid.uuid4().hex[:10]}"
    topic = DeviceTopic(tenant, "plot", "logger")
    series = SeriesId(AIR, tenant, "plot", "logger", "t")
    now = [T0 / 1000]
    marks = RollupMarks(store, "w1", clock=lambda: now[0])
    for at, value in ((0, 2.0), (MS_PER_HOUR + 1, 3.0)):
        batch = store.new_batch()
        batch.add_readings(topic, [Reading("t", AIR, T0 + at, value)])
        assert not store.write_batch(batch)
        marks.after_stored(batch)
        now[0] += 600
    before = watermark(store)
    report = run_round(store, lag_s=300, clock=lambda: now[0])
    # The first mark (T0) is 1200 s old, the second (T0 + 600 s) 600 s: both before the lag.
    assert report.through_ms == int((now[0] - 300) * 1000) > before
    assert watermark(store) == report.through_ms
    _assert_equal(_rolled(store, series), _raw(store, tenant))
    late = store.new_batch()
    late.add_readings(topic, [Reading("t", AIR, T0 + 5, -1.0)])
    assert not store.write_batch(late)
    marks.after_stored(late)
    assert run_round(store, lag_s=300, clock=lambda: now[0]).marks == 0
    assert _rolled(store, series)[T0][0] == 1
    now[0] += 600
    assert run_round(store, lag_s=300, clock=lambda: now[0]).marks == 1
    _assert_equal(_rolled(store, series), _raw(store, tenant))


CLOCK = [T0 / 1000]


def _same_rows(got: list[dict[str, object]], want: list[dict[str, object]]) -> None:
    """Same buckets and columns; counts, minima and maxima equal, means to 1e-9."""
    assert [sorted(r) for r in got] == [sorted(r) for r in want]
    assert [r["time"] for r in got] == [r["time"] for r in want]
    for mine, theirs in zip(got, want, strict=True):
        for name, value in theirs.items():
            if name == "mean":
                assert math.isclose(mine[name], value, rel_tol=1e-9, abs_tol=1e-9)  # type: ignore[arg-type]
            else:
                assert mine[name] == value


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first=st.lists(st.tuples(st.integers(0, SPAN - 1), values), min_size=1, max_size=40),
    late=st.lists(st.tuples(st.integers(0, SPAN - 1), values), min_size=1, max_size=10),
    cut=st.tuples(st.integers(0, SPAN // 2), st.integers(SPAN // 2 + 1, SPAN)),
)
def test_reader_aggregates_from_rollups_equal_the_raw_aggregates(
    store: ReadingStore,
    first: list[tuple[int, float]],
    late: list[tuple[int, float]],
    cut: tuple[int, int],
) -> None:
    """Rolled hours, then late points into rolled hours still pending, and a range cutting
    hours at both ends: 1h, 6h and 1d answers equal the raw ones before and after a round."""
    tenant = f"t{uuid.uuid4().hex[:10]}"
    topic = DeviceTopic(tenant, "plot", "logger")
    # The watermark is the store's, shared by the examples: their clock runs on from the last.
    now = CLOCK
    now[0] += 86_400
    marks = RollupMarks(store, "w1", clock=lambda: now[0])
    raw, rolled = Reader(store), Reader(store, rollups=True)
    key = SeriesKey(AIR, "plot", "logger", "t")
    for part in (first, late):
        batch = store.new_batch()
        batch.add_readings(topic, [Reading("t", AIR, T0 + at, v) for at, v in part])
        assert not store.write_batch(batch)
        marks.after_stored(batch)
        for _ in range(2):  # with the late marks pending, then rolled
            for interval in (Interval.HOUR, Interval.SIX_HOURS, Interval.DAY):
                for start, end in ((T0, T0 + SPAN), (T0 + cut[0], T0 + cut[1])):
                    ask = {
                        "start_ms": start,
                        "end_ms": end,
                        "interval": interval,
                        "functions": list(AggregateFunction),
                    }
                    _same_rows(
                        rolled.aggregates(tenant, key, **ask), raw.aggregates(tenant, key, **ask)
                    )
            now[0] += 600
            run_round(store, lag_s=300, clock=lambda: now[0])
    # Rounds ran: the rollup reader answered from rollups, not from its raw fallback.
    assert watermark(store) > 0
