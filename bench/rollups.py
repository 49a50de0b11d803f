"""p50/p99 of a 7-day hourly and a one-year daily aggregate of one sensor, uncached, from raw
points and from rollups.

A private InfluxDB gets 8 days of one reading a minute on one sensor (plus two more sensors of
the device), marked as ingest marks them, and a year of one reading every 10 minutes on a fourth
sensor, written unmarked and then rebuilt (`storage.rollup_rebuild`, timed); one rollup round
runs, then the same `Reader` queries are timed with `rollups=False` and `rollups=True` in one
run. Run: `python -m bench.rollups`.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import httpx

from core.time import MS_PER_DAY, MS_PER_MINUTE
from edge.protocol import DeviceTopic, SensorKind
from shinshu.localservices import LocalInfluxDB, free_port
from storage.batch import ChannelReadings
from storage.influx.client import InfluxStore
from storage.readings import AggregateFunction, Interval, Reader, SeriesKey
from storage.rollup_marks import RollupMarks
from storage.rollup_rebuild import rebuild
from storage.rollup_service import run_round

T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z
DAYS = 8
YEAR_DAYS = 365
REQUESTS = 200


def _latencies(reader: Reader, key: SeriesKey, *, days: int, interval: Interval) -> list[float]:
    """Milliseconds of each of REQUESTS uncached aggregates of `days` days (all functions)."""
    out = []
    for _ in range(REQUESTS):
        began = time.perf_counter()
        reader.aggregates(
            "bench",
            key,
            start_ms=T0 + MS_PER_DAY,
            end_ms=T0 + (days + 1) * MS_PER_DAY,
            interval=interval,
            functions=list(AggregateFunction),
        )
        out.append((time.perf_counter() - began) * 1000)
    return out


def main() -> None:
    """Load, roll up, time both readers and print their p50 and p99."""
    with tempfile.TemporaryDirectory() as folder:
        influx = LocalInfluxDB("influxd", Path(folder), free_port())
        influx.start()
        try:
            store = InfluxStore(httpx.Client(base_url=influx.url, timeout=60), "bench")
            store.ensure_database()
            topic = DeviceTopic("bench", "plot", "logger")
            times = list(range(T0, T0 + DAYS * MS_PER_DAY, MS_PER_MINUTE))
            marks = RollupMarks(store, "bench", clock=lambda: T0 / 1000 + DAYS * 86_400)
            for sensor in ("t1", "t2", "t3"):
                values = [20.0 + (i % 600) / 37.0 for i in range(len(times))]
                channel = ChannelReadings(topic, sensor, SensorKind.AIR_TEMPERATURE, times, values)
                batch = store.new_batch()
                batch.add_channel(channel)
                assert not store.write_batch(batch)
                marks.after_stored(batch)
            year = list(range(T0, T0 + (YEAR_DAYS + 1) * MS_PER_DAY, 10 * MS_PER_MINUTE))
            values = [5.0 + (i % 1000) / 53.0 for i in range(len(year))]
            channel = ChannelReadings(topic, "y1", SensorKind.AIR_TEMPERATURE, year, values)
            assert not store.write_channel(channel)
            began = time.perf_counter()
            report = rebuild(store, start_ms=T0, end_ms=year[-1] + 1)
            print(
                f"rebuild of {report.rollups:,} hourly rollups of {report.series} series: "
                f"{time.perf_counter() - began:.1f} s"
            )
            run_round(store, lag_s=0, clock=lambda: T0 / 1000 + DAYS * 86_400 + 1)
            week = SeriesKey(SensorKind.AIR_TEMPERATURE, "plot", "logger", "t1")
            yearly = SeriesKey(SensorKind.AIR_TEMPERATURE, "plot", "logger", "y1")
            cases = (
                ("7-day hourly", week, DAYS - 1, Interval.HOUR),
                ("1-year daily", yearly, YEAR_DAYS, Interval.DAY),
            )
            for what, key, days, interval in cases:
                for label, reader in (
                    ("raw", Reader(store)),
                    ("rollups", Reader(store, rollups=True)),
                ):
                    ms = sorted(_latencies(reader, key, days=days, interval=interval))
                    p99 = ms[int(len(ms) * 0.99) - 1]
                    print(
                        f"{what} aggregate, {label}: p50 {statistics.median(ms):.1f} ms, "
                        f"p99 {p99:.1f} ms ({REQUESTS} requests, uncached)"
                    )
        finally:
            influx.stop()


if __name__ == "__main__":
    main()
