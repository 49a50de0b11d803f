"""Backfill: write months of simulated history straight into the store, for training and demos.

Goes through the reading store (`storage.protocol.ReadingStore`, the one ingest writes to), not
through MQTT: a year of 18 sites is millions of readings, and the point is history, not the
wire. Live traffic goes through the edge publisher instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from edge.protocol import DeviceTopic, SensorKind
from simulators.assets import scenario_assets, season_records
from simulators.register import add_records, save_assets
from simulators.scenario import Scenario, SiteData, Truth, simulate_sites
from storage.batch import ChannelReadings
from storage.protocol import ReadingStore
from storage.rollup_rebuild import rebuild

log = logging.getLogger(__name__)

CHUNK_READINGS = 20_000


@dataclass(frozen=True, slots=True)
class BackfillReport:
    """What a backfill wrote and how long it took."""

    sites: int
    readings: int
    refused: int
    seconds: float
    records: int = 0


def _chunks(
    tenant: str, site: SiteData, until_ms: int | None, kinds: Collection[SensorKind] | None
) -> Iterator[ChannelReadings]:
    """Chunks of one site's readings (those before `until_ms`, of `kinds`, if given)."""
    topic = DeviceTopic(tenant, site.site, site.device).validate()
    for series in site.series:
        if kinds is not None and series.kind not in kinds:
            continue
        keep = len(series.ts_ms)
        if until_ms is not None:
            keep = int(np.searchsorted(series.ts_ms, until_ms, side="left"))
        ts, values = series.ts_ms[:keep].tolist(), series.values[:keep].tolist()
        for first in range(0, len(ts), CHUNK_READINGS):
            last = first + CHUNK_READINGS
            yield ChannelReadings(
                topic, series.sensor, series.kind, ts[first:last], values[first:last]
            )


def backfill(
    scenario: Scenario,
    store: ReadingStore,
    tenant: str,
    truth: Truth,
    *,
    progress: Callable[[str], None] = log.info,
    writers: int = 2,
    until_ms: int | None = None,
    kinds: Collection[SensorKind] | None = None,
    now_ms: int | None = None,
    rollups: bool = True,
) -> BackfillReport:
    """Simulate every site of `scenario` and write its readings; truth is collected in `truth`.

    With `until_ms`, only the readings before it are written: the rest is left for a live run
    of the same scenario (`LivePlan.begin_ms`), so history and live data join seamlessly.
    With `kinds`, only the readings of those sensor kinds are written.
    The crop seasons harvested in the written span become planting and harvest work records,
    as a farmer would have entered them (those harvested by `now_ms`, default the clock's now).
    With `rollups`, the hourly rollups of the written span are rebuilt from the points (the
    channel writes mark nothing), so rollup reads see the backfilled hours.
    """
    began = time.monotonic()
    # Descriptions first: a forecast service reading meanwhile knows what the readings are.
    save_assets(store, tenant, scenario_assets(scenario))
    written = refused = sites = 0
    known = len(truth.seasons)

    with ThreadPoolExecutor(writers) as pool:
        for site in simulate_sites(scenario, truth):
            sites += 1
            chunks = list(_chunks(tenant, site, until_ms, kinds))
            refused += sum(len(r) for r in pool.map(store.write_channel, chunks))
            written += sum(len(chunk.ts_ms) for chunk in chunks)
            progress(
                f"site {sites}: {site.site}/{site.device} {site.readings:,} readings "
                f"({written:,} in {time.monotonic() - began:.1f} s)"
            )
    if refused:
        log.warning("the store refused %d readings", refused)
    # Work is recorded once done: a season harvested after now is not recorded yet.
    end_ms = scenario.start_ms + scenario.duration_ms if until_ms is None else until_ms
    now = int(time.time() * 1000) if now_ms is None else now_ms
    records = season_records(truth.seasons[known:], min(end_ms, now))
    add_records(store, tenant, records)
    if rollups and written:
        rebuild(store, start_ms=scenario.start_ms, end_ms=end_ms, tenant=tenant)
    return BackfillReport(
        sites, written - refused, refused, time.monotonic() - began, records=len(records)
    )
