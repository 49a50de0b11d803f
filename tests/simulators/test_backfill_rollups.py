"""A backfill rolls up the hours it wrote: rollup reads of backfilled history equal raw reads."""

from __future__ import annotations

import datetime as dt

import pytest
from support import Services, assert_same_aggregates, make_influx

from core.time import MS_PER_DAY
from simulators.backfill import backfill
from simulators.scenario import Scenario, Truth, simulate_sites
from storage.batch import SeriesId
from storage.readings import AggregateFunction, Interval, Reader, SeriesKey
from storage.rollup_service import run_round
from storage.rollups import rolled_hours, rollups_select

pytestmark = pytest.mark.integration

START_MS = int(dt.datetime(2025, 6, 1, tzinfo=dt.UTC).timestamp() * 1000)
SCENARIO = Scenario(1, 0, 1, START_MS, 2 * MS_PER_DAY, 600_000, seed=9)
TENANT = "t-backfill-rollups"


def test_backfilled_hours_are_rolled_up_and_answer_as_the_raw_points(
    services: Services, database: str
) -> None:
    """No marks are written by a backfill; its rebuild alone makes rollup answers complete."""
    store = make_influx(services.influx, database)
    store.ensure_database()
    run_round(store, lag_s=0)  # rollups are trusted from here on, as in a running platform
    backfill(SCENARIO, store, TENANT, Truth(), progress=lambda _line: None)
    raw, rolled = Reader(store), Reader(store, rollups=True)
    end = START_MS + SCENARIO.duration_ms
    for site in simulate_sites(SCENARIO, Truth()):
        for series in site.series:
            key = SeriesKey(series.kind, site.site, site.device, series.sensor)
            ident = SeriesId(series.kind, TENANT, site.site, site.device, series.sensor)
            hours = rolled_hours(store, rollups_select(ident, START_MS, end))
            assert sum(h.count for h in hours) == len(series.ts_ms)
            for interval in (Interval.HOUR, Interval.DAY):
                ask = {
                    "start_ms": START_MS,
                    "end_ms": end,
                    "interval": interval,
                    "functions": list(AggregateFunction),
                }
                want = raw.aggregates(TENANT, key, **ask)
                assert_same_aggregates(rolled.aggregates(TENANT, key, **ask), want)
