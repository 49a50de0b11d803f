"""Forest growth corrected by work records, on a real store: an inventory re-anchors the
stand's curve on its day, thinnings and fellings lower the standing volume from theirs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.time import JST
from models.forest.service import ForestService, StandGrowth
from simulators.backfill import backfill
from simulators.register import add_records
from simulators.scenario import Scenario, Truth
from storage.assets import StandAsset
from storage.records import RecordKind, WorkRecord, void_record
from storage.series import AssetReader
from storage.sqlite.store import SqliteStore

START = dt.datetime(2025, 4, 1, tzinfo=JST)
DAYS = 240


@dataclass
class Forest:
    """A store with one simulated stand; each test has its own tenant."""

    store: SqliteStore
    tenant: str
    stand: StandAsset

    def growth(self) -> StandGrowth:
        """The stand's growth as the forest routes get it (nothing cached)."""
        service = ForestService(AssetReader(self.store, ttl_s=0.0), ttl_s=0.0)
        [stand] = service.stands(self.tenant)
        return service.growth(self.tenant, stand)

    def record(self, kind: RecordKind, day: int, quantity: float, unit: str) -> WorkRecord:
        """A record `day` days after the start, stored."""
        at = START + dt.timedelta(days=day, hours=10)
        r = WorkRecord(
            self.stand.site,
            self.stand.asset,
            kind,
            int(at.timestamp() * 1000),
            quantity=quantity,
            unit=unit,
        ).with_id()
        add_records(self.store, self.tenant, [r])
        return r


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteStore]:
    """An empty SQLite store for the module."""
    path: Path = tmp_path_factory.mktemp("forest") / "store.sqlite3"
    s = SqliteStore(path, timeout=60.0)
    s.ensure_database()
    yield s


@pytest.fixture
def forest(store: SqliteStore, request: pytest.FixtureRequest) -> Forest:
    """Eight months of one larch stand's dendrometers, for this test's tenant."""
    tenant = request.node.name.replace("_", "-")[:40].strip("-").lower()
    start_ms = int(START.timestamp() * 1000)
    scenario = Scenario(0, 1, 0, start_ms, DAYS * 86_400_000, 3 * 3_600_000, seed=4)
    backfill(scenario, store, tenant, Truth(), progress=lambda _line: None)
    service = ForestService(AssetReader(store, ttl_s=0.0), ttl_s=0.0)
    [stand] = service.stands(tenant)
    return Forest(store, tenant, stand)


def test_an_inventory_re_anchors_the_growth_curve(forest: Forest) -> None:
    """An inventory record (total m³) replaces the registry's inventory from its day: the
    stand's age and volume on that day anchor the fit, and the volume now follows it."""
    before = forest.growth()
    day = 120
    measured = 0.8 * before.volume_now * forest.stand.area_ha
    forest.record(RecordKind.INVENTORY, day, measured, "m3")
    after = forest.growth()
    assert after.stand.age_on == (START + dt.timedelta(days=day)).date().isoformat()
    assert after.stand.volume_m3_ha == pytest.approx(measured / forest.stand.area_ha)
    assert after.stand.age_years == pytest.approx(forest.stand.age_years + day / 365.2425)
    # The stand's own measurement now; the curve bends to it (about 80 % of before).
    assert after.volume_now == pytest.approx(0.8 * before.volume_now, rel=0.05)
    assert after.age_now == pytest.approx(before.age_now, abs=1e-6)


def test_a_thinning_lowers_the_standing_volume_from_its_day(forest: Forest) -> None:
    """A thinning of 40 m³ a hectare leaves the share of the stand it did not take, growing on; a
    void record changes nothing."""
    before = forest.growth()
    thinning = forest.record(RecordKind.THINNING, 60, 40.0 * forest.stand.area_ha, "m3")
    after = forest.growth()
    [removal] = after.removals
    assert removal.volume_m3_ha == 40.0
    curve = after.curve
    expected = (1 - 40.0 / float(curve.volume(removal.age))) * float(curve.volume(after.age_now))
    assert after.volume_now == pytest.approx(expected)
    assert after.volume_now < before.volume_now - 35.0
    void_record(forest.store, forest.tenant, thinning, by="operator", now_ms=thinning.at_ms + 1)
    assert forest.growth().volume_now == pytest.approx(before.volume_now)


def test_a_felling_of_the_whole_stand_leaves_nothing_standing(forest: Forest) -> None:
    """A felling of the whole stand's volume (total m³) leaves no standing volume after it."""
    before = forest.growth()
    forest.record(RecordKind.FELLING, 200, 2.0 * before.volume_now * forest.stand.area_ha, "m3")
    assert forest.growth().volume_now == 0.0
