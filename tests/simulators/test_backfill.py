"""Backfill of simulated farms, forests and factories into a real InfluxDB, with ground truth."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from support import Services, count_points, make_influx

from simulators.backfill import backfill
from simulators.scenario import Scenario, Truth, simulate_sites

pytestmark = pytest.mark.integration

START_MS = int(dt.datetime(2025, 6, 1, tzinfo=dt.UTC).timestamp() * 1000)
SCENARIO = Scenario(
    farms=1,
    forests=1,
    factories=1,
    start_ms=START_MS,
    duration_ms=3 * 86_400_000,
    step_ms=600_000,
    seed=7,
)


def test_backfill_stores_every_simulated_reading_and_writes_truth(
    services: Services, database: str, tmp_path: Path
) -> None:
    """Every reading lands in the store with its value; truth CSVs are written with headers."""
    store = make_influx(services.influx, database)
    store.ensure_database()
    truth = Truth()
    report = backfill(SCENARIO, store, "t-backfill", truth, progress=lambda _line: None)
    expected_sites = list(simulate_sites(SCENARIO, Truth()))
    total = sum(site.readings for site in expected_sites)
    assert report.readings == total
    assert report.refused == 0
    assert count_points(store) == total
    # One series checked value by value: what the simulator produced is what is stored.
    site = expected_sites[0]
    series = site.series[0]
    where = f"\"site\" = '{site.site}' AND \"sensor\" = '{series.sensor}'"
    results = store.query(f'SELECT "value" FROM "{series.kind.value}" WHERE {where}')
    stored = results[0]["series"][0]["values"]
    assert [int(t) for t, _ in stored] == series.ts_ms.tolist()
    assert [v for _, v in stored] == series.values.tolist()
    files = truth.write(tmp_path / "truth")
    assert {f.name for f in files} == {"anomalies.csv", "seasons.csv", "stands.csv"}
    with (tmp_path / "truth" / "stands.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows and {"site", "stand", "volume_m3_ha"} <= set(rows[0])


def test_adding_a_site_does_not_change_the_others() -> None:
    """Each site has its own child seed: a scenario with more factories keeps the farms' data."""
    bigger = Scenario(**{**{f: getattr(SCENARIO, f) for f in SCENARIO.__slots__}, "factories": 2})
    first = next(simulate_sites(SCENARIO, Truth()))
    again = next(simulate_sites(bigger, Truth()))
    assert first.site == again.site
    for a, b in zip(first.series, again.series, strict=True):
        assert a.values.tobytes() == b.values.tobytes()
