"""Training seasons are work records: a harvest entered for a field becomes training data of
`shinshu train`, and a seasons CSV is imported as records (again: the same records)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings, load_api_settings
from core.time import JST
from dashboard.app import create_app
from dashboard.keys import Role
from models.harvest.csvio import EPOCH, write_seasons
from models.harvest.records import recorded_seasons
from models.harvest.service import ForecastService
from models.harvest.types import SeasonRecord
from models.registry import ModelRegistry
from models.sites.service import RegistryService
from models.store_weather import read_daily_weather
from models.training import import_seasons
from simulators.backfill import backfill
from simulators.register import add_records, save_assets
from simulators.scenario import Scenario, Truth
from storage.assets import FieldAsset, Registry, read_assets
from storage.records import RecordKind, WorkRecord, read_records
from storage.sqlite.store import SqliteStore

TENANT = "alpha"
SITE = "kawakami-01"
END = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
YEARS = 5
# A second field on the farm, registered and recorded by hand as the web UI does.
OWN = FieldAsset(SITE, "lettuce-z", "", "lettuce", 0.5, ("2025-06-10",), variety="Silvana")


@dataclass(frozen=True)
class Farm:
    """A SQLite store with five simulated years of one lettuce farm and its records."""

    path: Path
    store: SqliteStore
    truth: Truth


def _at(day: str, hour: int) -> int:
    """Milliseconds of a local (Asia/Tokyo) hour of a day."""
    date = dt.date.fromisoformat(day)
    return int(dt.datetime.combine(date, dt.time(hour), JST).timestamp() * 1000)


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farm]:
    """Five hourly years of one simulated farm, backfilled with its seasons as records."""
    path = tmp_path_factory.mktemp("records") / "store.sqlite3"
    store = SqliteStore(path, timeout=60.0)
    store.ensure_database()
    end_ms = int(END.timestamp() * 1000)
    start_ms = end_ms - YEARS * 365 * 86_400_000
    truth = Truth()
    scenario = Scenario(1, 0, 0, start_ms, end_ms - start_ms, 3_600_000, seed=3)
    report = backfill(scenario, store, TENANT, truth, progress=lambda _line: None)
    assert report.refused == 0
    assert report.records == 2 * len(truth.seasons) >= 18
    yield Farm(path, store, truth)


def _train(farm: Farm, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHINSHU_")}
    env.update(
        SHINSHU_STORE=f"sqlite://{farm.path}", SHINSHU_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1"
    )
    return subprocess.run(
        [sys.executable, "-m", "shinshu.cli", "train", "--tenant", TENANT, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_the_backfill_records_every_harvested_season(farm: Farm) -> None:
    """Each simulated season is a planting and a harvest record; yields come back in t/ha."""
    records = read_records(farm.store, TENANT, sites=[SITE])
    assert {r.by for r in records} == {"simulator"}
    seasons, skipped = recorded_seasons(records, read_assets(farm.store, TENANT))
    assert not skipped
    assert [(s.season.planting, s.season.maturity) for s in seasons] == [
        ((t.planted - EPOCH).days, (t.maturity - EPOCH).days) for t in farm.truth.seasons
    ]
    for got, want in zip(seasons, farm.truth.seasons, strict=True):
        assert got.season.yield_value == pytest.approx(want.yield_t_ha, abs=1e-4)


def test_an_entered_harvest_is_in_the_training_data(farm: Farm, tmp_path: Path) -> None:
    """A planting and a harvest record of a newly registered field: `shinshu train` lists that
    season, with those records, among the data of the model it registers."""
    # As the API enters them: through the registry's service, by the signed-in operator.
    service = RegistryService(farm.store)
    service.save(TENANT, [OWN], by="operator")
    planting = WorkRecord(SITE, OWN.asset, RecordKind.PLANTING, _at("2025-06-10", 8)).with_id()
    mistaken = WorkRecord(
        SITE, OWN.asset, RecordKind.HARVEST, _at("2025-08-01", 7), quantity=50_000.0, unit="kg"
    ).with_id()
    harvest = WorkRecord(
        SITE, OWN.asset, RecordKind.HARVEST, _at("2025-08-02", 7), quantity=15_000.0, unit="kg"
    ).with_id()
    service.add_records(TENANT, [planting, mistaken, harvest], by="operator")
    service.void(TENANT, SITE, mistaken.record, by="operator")
    result = _train(farm, tmp_path)
    assert result.returncode in (0, 3), result.stdout + result.stderr
    [meta] = ModelRegistry.for_tenant(tmp_path, TENANT).versions("harvest")
    [season] = [s for s in meta.data["training_seasons"] if s["field"] == OWN.asset]
    assert season == {
        "site": SITE,
        "field": OWN.asset,
        "crop": "lettuce",
        "planting_date": "2025-06-10",
        "maturity_date": "2025-08-02",
        # 15 t from 0.5 ha; the voided record is not a harvest.
        "yield_t_ha": 30.0,
        "planting_record": planting.record,
        "harvest_records": [harvest.record],
    }
    assert meta.data["seasons"] == len(farm.truth.seasons) + 1
    assert meta.data["yield_unit"] == "t/ha"


def test_a_seasons_csv_is_imported_as_records_once(farm: Farm, tmp_path: Path) -> None:
    """Importing a seasons CSV twice stores its rows once; a corrected yield replaces the old."""
    tenant = "beta"
    site = read_assets(farm.store, TENANT).sites[SITE]
    field = read_assets(farm.store, TENANT).fields[SITE][0]
    save_assets(farm.store, tenant, [site, field])
    rows = [
        SeasonRecord(SITE, "lettuce", (dt.date(2024, 5, d) - EPOCH).days, None, None)
        for d in (1, 20)
    ]
    rows = [replace(r, maturity=r.planting + 60, yield_value=30.0 + i) for i, r in enumerate(rows)]
    csv = write_seasons(tmp_path / "seasons.csv", rows)
    import_seasons(farm.store, tenant, csv)
    import_seasons(farm.store, tenant, csv)
    stored = read_records(farm.store, tenant)
    assert len(stored) == 4
    assert {r.note for r in stored} == {"seasons CSV"}
    corrected = write_seasons(tmp_path / "again.csv", [replace(rows[0], yield_value=41.0)])
    import_seasons(farm.store, tenant, corrected)
    seasons, _ = recorded_seasons(read_records(farm.store, tenant), read_assets(farm.store, tenant))
    assert [round(s.season.yield_value or 0, 4) for s in seasons] == [41.0, 31.0]
    assert len(read_records(farm.store, tenant)) == 4


def test_train_imports_a_seasons_file_first(farm: Farm, tmp_path: Path) -> None:
    """`shinshu train --seasons FILE` stores the file's seasons as records and trains on them;
    a row naming a site without a registered field is refused with its line (exit 2)."""
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "field_id,crop,planting_date,maturity_date,yield\nnowhere-01,lettuce,2025-05-05,"
        "2025-07-01,30\n"
    )
    result = _train(farm, tmp_path, "--seasons", str(bad))
    assert result.returncode == 2
    assert "line 2: site 'nowhere-01' has no registered field" in result.stderr
    assert ModelRegistry.for_tenant(tmp_path, TENANT).versions() == []


def test_a_planting_record_starts_the_current_season(farm: Farm, tmp_path: Path) -> None:
    """The farm page's season is the newest planting, registered or recorded."""
    save_assets(farm.store, TENANT, [OWN])
    service = ForecastService(farm.store, tmp_path, read_daily_weather, ttl_s=0.0)
    as_of = dt.date(2026, 6, 20)
    assert service.forecast(TENANT, SITE, as_of, OWN.asset).planting == dt.date(2025, 6, 10)
    planted = WorkRecord(SITE, OWN.asset, RecordKind.PLANTING, _at("2026-06-01", 9))
    add_records(farm.store, TENANT, [planted])
    assert service.forecast(TENANT, SITE, as_of, OWN.asset).planting == dt.date(2026, 6, 1)


def test_a_planting_never_harvested_does_not_take_a_later_harvest() -> None:
    """Overlapping seasons pair in order; a planting with no harvest within a season is left."""
    registry = Registry(fields={SITE: [OWN]})

    def rec(kind: RecordKind, day: str, kg: float | None = None) -> WorkRecord:
        return WorkRecord(SITE, OWN.asset, kind, _at(day, 8), quantity=kg).with_id()

    records = [
        rec(RecordKind.PLANTING, "2024-05-01"),
        rec(RecordKind.PLANTING, "2025-05-01"),
        rec(RecordKind.PLANTING, "2025-07-01"),
        rec(RecordKind.HARVEST, "2025-07-05", 10_000.0),
        rec(RecordKind.HARVEST, "2025-09-01", 12_500.0),
    ]
    seasons, skipped = recorded_seasons(records, registry)
    assert [(s.season.planting, s.season.maturity, s.season.yield_value) for s in seasons] == [
        ((dt.date(2025, 5, 1) - EPOCH).days, (dt.date(2025, 7, 5) - EPOCH).days, 20.0),
        ((dt.date(2025, 7, 1) - EPOCH).days, (dt.date(2025, 9, 1) - EPOCH).days, 25.0),
    ]
    assert skipped == [f"{SITE}/{OWN.asset} planted 2024-05-01: no harvest within a season"]


def test_a_harvest_entered_through_the_api_becomes_a_training_season(
    farm: Farm, tmp_path: Path
) -> None:
    """An operator registers a field and enters its planting and harvest as the web UI does
    (POST /registry/.../fields, POST /records); the model `shinshu train` registers next lists
    that season, with the ids the API gave the records, among its training data."""
    app = create_app(load_api_settings(Settings(store=f"sqlite://{farm.path}", data_dir=tmp_path)))
    _, token = app.state.context.keys.create(TENANT, Role.OPERATOR, name="field worker")
    headers = {"X-API-Key": token}
    api = f"/api/v1/tenants/{TENANT}"
    with TestClient(app) as client:
        field = {"asset": "lettuce-y", "crop": "lettuce", "area_ha": 0.4, "variety": "Cisco"}
        made = client.post(f"{api}/registry/sites/{SITE}/fields", json=field, headers=headers)
        assert made.status_code == 201, made.text
        entered = []
        for body in (
            {"site": SITE, "asset": "lettuce-y", "kind": "planting", "at": "2024-06-03"},
            {
                "site": SITE,
                "asset": "lettuce-y",
                "kind": "harvest",
                "at": "2024-07-29",
                "quantity": 11_200,
                "grade": "A",
            },
        ):
            answer = client.post(f"{api}/records", json=body, headers=headers)
            assert answer.status_code == 201, answer.text
            entered.append(answer.json()["record"])
    result = _train(farm, tmp_path)
    assert result.returncode in (0, 3), result.stdout + result.stderr
    [meta] = ModelRegistry.for_tenant(tmp_path, TENANT).versions("harvest")
    [season] = [s for s in meta.data["training_seasons"] if s["field"] == "lettuce-y"]
    assert season["planting_record"] == entered[0]
    assert season["harvest_records"] == [entered[1]]
    assert (season["planting_date"], season["maturity_date"]) == ("2024-06-03", "2024-07-29")
    assert season["yield_t_ha"] == pytest.approx(28.0)
