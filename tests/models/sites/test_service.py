"""RegistryService on a real store: all or nothing, who and when, records fit their asset."""

from __future__ import annotations

import datetime as dt

import pytest

from core.errors import ConflictError, NotFoundError
from models.sites.service import RegistryInvalid, RegistryService
from storage.assets import (
    BinAsset,
    Change,
    FieldAsset,
    SiteAsset,
    SiteKind,
    StandAsset,
    asset_history,
)
from storage.protocol import ReadingStore
from storage.records import RecordKind, WorkRecord, read_records

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC).timestamp()
FARM = SiteAsset("azumino", SiteKind.FARM, "安曇野", "Azumino", 36.3, 137.9, 540.0)
FACTORY = SiteAsset("suwa", SiteKind.FACTORY, "諏訪", "Suwa", 36.0, 138.1, 760.0)
FIELD = FieldAsset("azumino", "f1", "pi-1", "lettuce", 0.5, ("2026-04-01",))
BIN = BinAsset("suwa", "b1", "gw", "M3 screw", 0.002, 5000, "w", "c", 48.0, tolerance=5)


class Clock:
    """A clock the test moves."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_save_writes_all_or_nothing(store: ReadingStore) -> None:
    """One bad entry of three: RegistryInvalid with its index and field, and nothing stored."""
    service = RegistryService(store, Clock(NOW))
    bad = BinAsset("suwa", "b2", "", "x", -1.0, 10, "", "", 1.0)
    with pytest.raises(RegistryInvalid) as raised:
        service.save("t", [FACTORY, BIN, bad], by="key:k1")
    assert [(e.index, e.field) for e in raised.value.errors] == [(2, "unit_kg")]
    assert service.registry("t").sites == {}
    assert service.save("t", [FACTORY, BIN], by="key:k1") == [FACTORY, BIN]
    registry = service.registry("t")
    assert registry.sites == {"suwa": FACTORY}
    assert registry.bins == {"suwa": [BIN]}


def test_every_change_is_kept_with_who_and_when(store: ReadingStore) -> None:
    """Create, then update, then retire: three versions with by and time; a device move shows."""
    clock = Clock(NOW)
    service = RegistryService(store, clock)
    service.save("t", [FARM, FIELD], by="key:k1 (Tanaka)")
    clock.now += 3600
    moved = FieldAsset("azumino", "f1", "pi-2", "lettuce", 0.5, ("2026-04-01",))
    service.save("t", [moved], by="cli:suzuki")
    clock.now += 3600
    service.retire("t", "azumino", "f1", by="cli:suzuki")
    versions, attached = service.history("t", "azumino", "f1")
    assert [(v.change, v.by) for v in versions] == [
        (Change.CREATE, "key:k1 (Tanaka)"),
        (Change.UPDATE, "cli:suzuki"),
        (Change.RETIRE, "cli:suzuki"),
    ]
    assert versions[0].at_ms == int(NOW * 1000)
    assert [(a.device, a.to_ms is None) for a in attached] == [("pi-1", False), ("pi-2", False)]
    assert service.registry("t").fields == {}
    assert len(asset_history(store, "t", "azumino", "f1")) == 3


def test_entries_need_a_registered_site_and_one_kind_per_id(store: ReadingStore) -> None:
    """A field of an unknown site, or a bin under a field's id, is refused."""
    service = RegistryService(store, Clock(NOW))
    with pytest.raises(RegistryInvalid) as raised:
        service.save("t", [FIELD], by="x")
    assert raised.value.errors[0].field == "site"
    service.save("t", [FARM, FIELD], by="x")
    clash = StandAsset("azumino", "f1", "", "larch", 1.0, 10.0, "2025-01-01")
    with pytest.raises(RegistryInvalid) as clashed:
        service.save("t", [clash], by="x")
    assert {e.field for e in clashed.value.errors} == {"site", "asset"}
    assert any("already a field" in e.en for e in clashed.value.errors)


def test_a_site_is_retired_after_its_entries(store: ReadingStore) -> None:
    """Retiring a site that still has a field is a conflict; an unknown entry is not found."""
    service = RegistryService(store, Clock(NOW))
    service.save("t", [FARM, FIELD], by="x")
    with pytest.raises(ConflictError):
        service.retire("t", "azumino", "_site", by="x")
    with pytest.raises(NotFoundError):
        service.retire("t", "azumino", "nope", by="x")
    service.retire("t", "azumino", "f1", by="x")
    service.retire("t", "azumino", "_site", by="x")
    assert service.registry("t").sites == {}


def test_records_are_stamped_checked_and_voided(store: ReadingStore) -> None:
    """Records get by, entered time and their unit; a wrong kind refuses the whole batch."""
    service = RegistryService(store, Clock(NOW))
    service.save("t", [FARM, FIELD, FACTORY, BIN], by="x")
    at = int(NOW * 1000) - 86_400_000
    harvest = WorkRecord("azumino", "f1", RecordKind.HARVEST, at, quantity=120.0, grade="A")
    stocktake = WorkRecord("suwa", "b1", RecordKind.STOCKTAKE, at, quantity=4200)
    misplaced = WorkRecord("suwa", "b1", RecordKind.HARVEST, at, quantity=1.0)
    with pytest.raises(RegistryInvalid) as raised:
        service.add_records("t", [harvest, stocktake, misplaced], by="key:k2")
    assert [(e.index, e.field) for e in raised.value.errors] == [(2, "kind")]
    assert read_records(store, "t") == []
    stored = service.add_records("t", [harvest, stocktake], by="key:k2")
    assert [(r.unit, r.by, r.entered_ms) for r in stored] == [
        ("kg", "key:k2", int(NOW * 1000)),
        ("items", "key:k2", int(NOW * 1000)),
    ]
    assert [r.record for r in service.records("t")] == sorted(r.record for r in stored)
    voided = service.void("t", "azumino", stored[0].record, by="key:k3")
    assert voided.voided_by == "key:k3"
    assert [r.kind for r in service.records("t")] == [RecordKind.STOCKTAKE]
    assert len(service.records("t", include_void=True)) == 2


def test_a_field_belongs_to_a_farm_and_a_bin_to_a_factory(store: ReadingStore) -> None:
    """A bin at a farm site is refused with the reason in both languages."""
    service = RegistryService(store, Clock(NOW))
    service.save("t", [FARM], by="x")
    misplaced = BinAsset("azumino", "b1", "", "x", 1.0, 10, "", "", 1.0)
    with pytest.raises(RegistryInvalid) as raised:
        service.save("t", [misplaced], by="x")
    error = raised.value.errors[0]
    assert (error.field, "farm" in error.en, "農場" in error.ja) == ("site", True, True)


def test_records_of_unusable_ids_are_refused_not_looked_up(store: ReadingStore) -> None:
    """A site id no store could hold is a field error, not a failed query."""
    service = RegistryService(store, Clock(NOW))
    odd = WorkRecord("a\nb'\"/", "f1", RecordKind.HARVEST, int(NOW * 1000), quantity=1.0)
    with pytest.raises(RegistryInvalid) as raised:
        service.add_records("t", [odd], by="x")
    assert {e.field for e in raised.value.errors} == {"site"}
