"""A backfill enters its sites through the asset registry and records each crop season it saw
harvested as a planting and a harvest work record, as the farmer would have."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from core.time import day_number, day_start_ms
from simulators.assets import FIELD_AREA_HA
from simulators.backfill import backfill
from simulators.scenario import Scenario, Truth
from storage.assets import asset_history
from storage.records import RecordKind, read_records
from storage.sqlite.store import SqliteStore

START_MS = int(dt.datetime(2025, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)


def test_harvested_seasons_become_records_and_later_ones_wait(tmp_path: Path) -> None:
    """Seasons harvested by `now_ms` are two records each (kg = t/ha × area); a season whose
    harvest comes after now is not recorded; every entry is the simulator's."""
    store = SqliteStore(tmp_path / "store.sqlite3", timeout=30.0)
    store.ensure_database()
    truth = Truth()
    scenario = Scenario(2, 1, 1, START_MS, 365 * 86_400_000, 6 * 3_600_000, seed=11)
    now_ms = START_MS + 200 * 86_400_000
    report = backfill(scenario, store, "farm", truth, progress=lambda _l: None, now_ms=now_ms)
    harvests = sorted(day_start_ms(day_number(s.maturity)) for s in truth.seasons)
    done = [s for s in truth.seasons if day_start_ms(day_number(s.maturity)) < now_ms]
    assert 0 < len(done) < len(truth.seasons), harvests
    records = read_records(store, "farm")
    assert report.records == len(records) == 2 * len(done)
    assert {r.by for r in records} == {"simulator"}
    harvested = {
        (r.site, r.asset, r.at_ms): r.quantity for r in records if r.kind is RecordKind.HARVEST
    }
    assert harvested == {
        (s.site, s.field, day_start_ms(day_number(s.maturity))): round(
            s.yield_t_ha * FIELD_AREA_HA[s.crop] * 1000, 1
        )
        for s in done
    }
    [version] = asset_history(store, "farm", done[0].site, done[0].field)
    assert version.by == "simulator"
