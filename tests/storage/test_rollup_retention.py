"""Raw retention on InfluxDB: raw readings live in the retention policy `raw`, rollups in the
default one, and once raw shards expire the rollup reader still answers what the raw points did.

Expiry is InfluxDB's retention enforcer dropping the raw policy's shards whose end is past the
duration; the test drops the same shards itself (`DROP SHARD`) instead of waiting a day.
"""

from __future__ import annotations

import datetime as dt
import random
import time

import httpx
import pytest
from support import Services, assert_same_aggregates

from core.time import MS_PER_DAY, MS_PER_HOUR
from edge.protocol import DeviceTopic, Reading, SensorKind
from storage.influx.client import RAW_RP, InfluxStore
from storage.readings import AggregateFunction, Interval, Reader, SeriesKey
from storage.rollup_marks import RollupMarks
from storage.rollup_rebuild import rebuild
from storage.rollup_service import run_round
from storage.rollups import hour_start

pytestmark = pytest.mark.integration

AIR = SensorKind.AIR_TEMPERATURE
TENANT = "t-retention"
KEY = SeriesKey(AIR, "plot", "logger", "t")


def _store(services: Services, database: str) -> InfluxStore:
    """A store whose raw readings are kept one day."""
    http = httpx.Client(base_url=services.influx.url, timeout=10)
    store = InfluxStore(http, database, raw_retention_days=1)
    store.ensure_database()
    return store


def _count(store: InfluxStore, source: str) -> int:
    """Points with a `value` in one qualified measurement."""
    series = store.query(f'SELECT count("value") FROM {source}')[0].get("series", [])
    return int(series[0]["values"][0][1]) if series else 0


def _expire(store: InfluxStore, before_ms: int) -> int:
    """Drop the raw policy's shards that end by `before_ms`, as the enforcer would; how many."""
    dropped = 0
    for series in store.query("SHOW SHARDS")[0].get("series", []):
        if series["name"] != store.database:
            continue
        for row in series["values"]:
            shard = dict(zip(series["columns"], row, strict=True))
            ends = dt.datetime.fromisoformat(shard["end_time"].replace("Z", "+00:00"))
            if shard["retention_policy"] == RAW_RP and ends.timestamp() * 1000 <= before_ms:
                store.query(f"DROP SHARD {int(shard['id'])}")
                dropped += 1
    return dropped


def _asks(start: int, end: int) -> list[dict[str, object]]:
    """Hourly and daily aggregates of every function over [start, end)."""
    return [
        {"start_ms": start, "end_ms": end, "interval": i, "functions": list(AggregateFunction)}
        for i in (Interval.HOUR, Interval.DAY)
    ]


def test_after_raw_shards_expire_rollups_answer_as_the_raw_points_did(
    services: Services, database: str
) -> None:
    """Readings of the last day go to `raw`, rollups to the default policy; after the older
    raw shards are dropped, raw reads lose those hours and rollup reads (and a rebuild of the
    whole range) keep the answers the raw points gave."""
    store = _store(services, database)
    policies = store.query("SHOW RETENTION POLICIES")[0]["series"][0]
    durations = {row[0]: row[1] for row in policies["values"]}
    assert durations[RAW_RP] == "24h0m0s"
    now_ms = int(time.time() * 1000)
    first, last = hour_start(now_ms) - 20 * MS_PER_HOUR, hour_start(now_ms) - 2 * MS_PER_HOUR
    rng = random.Random(17)
    times = sorted(rng.sample(range(first, last), 400))
    batch = store.new_batch()
    topic = DeviceTopic(TENANT, KEY.site, KEY.device)
    batch.add_readings(topic, [Reading("t", AIR, t, rng.uniform(-10, 30)) for t in times])
    assert not store.write_batch(batch)
    RollupMarks(store, "w1").after_stored(batch)
    run_round(store, lag_s=0, clock=lambda: time.time() + 1)
    assert _count(store, f'"{RAW_RP}"."{AIR.value}"') == 400
    assert _count(store, f'"autogen"."{AIR.value}"') == 0
    assert _count(store, '"autogen"."rollup_1h"') == 0  # no `value` field: count the sums
    assert store.query('SELECT count("sum") FROM "autogen"."rollup_1h"')[0]["series"]
    raw, rolled = Reader(store), Reader(store, rollups=True)
    asks = _asks(first - MS_PER_DAY, hour_start(now_ms))
    before = [raw.aggregates(TENANT, KEY, **a) for a in asks]  # type: ignore[arg-type]
    for ask, want in zip(asks, before, strict=True):
        assert_same_aggregates(rolled.aggregates(TENANT, KEY, **ask), want)  # type: ignore[arg-type]
    cutoff = first + 10 * MS_PER_HOUR
    assert _expire(store, cutoff) > 0
    kept = [t for t in times if t >= cutoff]
    assert _count(store, f'"{RAW_RP}"."{AIR.value}"') == len(kept) < len(times)
    hourly_raw = raw.aggregates(TENANT, KEY, **asks[0])  # type: ignore[arg-type]
    assert all(r["time"] >= cutoff for r in hourly_raw)
    rebuild(store, start_ms=first - MS_PER_DAY, end_ms=hour_start(now_ms), tenant=TENANT)
    for ask, want in zip(asks, before, strict=True):
        assert_same_aggregates(rolled.aggregates(TENANT, KEY, **ask), want)  # type: ignore[arg-type]


def test_a_point_older_than_the_retention_is_refused_not_lost_silently(
    services: Services, database: str
) -> None:
    """InfluxDB refuses raw points beyond the policy's duration; the store reports them."""
    store = _store(services, database)
    old = int(time.time() * 1000) - 3 * MS_PER_DAY
    batch = store.new_batch()
    batch.add_readings(DeviceTopic(TENANT, "plot", "logger"), [Reading("t", AIR, old, 1.0)])
    assert store.write_batch(batch).readings
