"""The sites/devices catalogue: refreshed incrementally, read in full every few refreshes."""

from __future__ import annotations

import time

import pytest
from support import Services, make_influx

from edge.protocol import DeviceTopic, SensorKind
from storage.catalogue import SeriesKey
from storage.influx.client import InfluxStore
from storage.influx.lineprotocol import series_lines
from storage.readings import FULL_READ_EVERY, Reader

pytestmark = pytest.mark.integration

AIR = SensorKind.AIR_TEMPERATURE


def _write(store: InfluxStore, device: str, ts_ms: int) -> SeriesKey:
    topic = DeviceTopic("cat", "site", device)
    assert store.write_lines(series_lines(topic, "air", AIR, [ts_ms], [1.5])) == []
    return SeriesKey(AIR, "site", device, "air")


def test_catalogue_merges_new_readings_and_reads_old_ones_at_the_next_full_read(
    services: Services, database: str
) -> None:
    """New and late-but-recent readings show at once; a backfilled old series at a full read."""
    store = make_influx(services.influx, database)
    store.ensure_database()
    reader = Reader(store, catalogue_ttl_s=0)  # every call reads (incrementally after the first)
    now = int(time.time() * 1000)
    first = _write(store, "pi-1", now - 3_600_000)
    assert reader.catalogue("cat").last_seen == {first: now - 3_600_000}

    second = _write(store, "pi-2", now)
    _write(store, "pi-1", now - 60_000)  # newer reading of a known series
    old = _write(store, "pi-old", now - 30 * 86_400_000)  # a backfill of last month
    seen = reader.catalogue("cat").last_seen
    assert seen[first] == now - 60_000 and seen[second] == now
    assert old not in seen  # older than the incremental window

    for _ in range(FULL_READ_EVERY):
        seen = reader.catalogue("cat").last_seen
    assert seen[old] == now - 30 * 86_400_000
    assert seen[first] == now - 60_000 and seen[second] == now
