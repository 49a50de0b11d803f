"""Field-level checks: every problem of an entry, each in English and Japanese."""

from __future__ import annotations

import datetime as dt

from models.sites.validation import check_asset, check_record, parse_at
from storage.assets import AssetKind, BinAsset, FieldAsset, SiteAsset, SiteKind, StandAsset
from storage.records import RecordKind, WorkRecord

NOW_MS = int(dt.datetime(2026, 6, 1, tzinfo=dt.UTC).timestamp() * 1000)
TODAY = dt.date(2026, 6, 1)


def _fields(errors: list) -> set[str]:
    return {e.field for e in errors}


def test_a_good_site_field_stand_and_bin_pass() -> None:
    """Plausible entries have no problem."""
    entries = [
        SiteAsset(
            "azumino", SiteKind.FARM, "安曇野圃場", "Azumino", 36.3, 137.9, 540.0, "安曇野市"
        ),
        FieldAsset("azumino", "f1", "pi-1", "lettuce", 0.5, ("2026-04-01",), "", ("2026-06-01",)),
        FieldAsset("azumino", "f2", "", "soba", 1.0),
        StandAsset("ina", "s1", "", "larch", 12.0, 40.0, "2025-04-01", planting_year=1985),
        BinAsset("suwa", "b1", "gw", "M3 screw", 0.002, 5000, "w", "c", 48.0, reorder_point=800),
    ]
    for entry in entries:
        assert check_asset(entry, today=TODAY) == [], entry


def test_every_problem_of_a_site_is_reported_in_both_languages() -> None:
    """Bad latitude, longitude, elevation, kind and id are all listed, none left for later."""
    site = SiteAsset("a/b", "moon", "", "", 95.0, -181.0, 12_000.0)  # type: ignore[arg-type]
    errors = check_asset(site, today=TODAY)
    assert _fields(errors) == {"site", "kind", "name_ja", "latitude", "longitude", "altitude_m"}
    for error in errors:
        assert error.en and error.ja and error.en != error.ja
    site_error = next(e for e in errors if e.field == "site")
    assert "'/'" in site_error.en and "'/'" in site_error.ja


def test_field_dates_area_and_harvest_after_planting() -> None:
    """A harvest not after its planting, a non-ISO date and a zero area are refused."""
    bad = FieldAsset("s", "f", "", "rice", 0.0, ("2026-05-01", "1 May"), "", ("2026-04-01",))
    errors = check_asset(bad, today=TODAY)
    assert _fields(errors) == {"area_ha", "plantings", "expected_harvests"}
    assert any("2026-04-01" in e.en and "植付日" in e.ja for e in errors)


def test_unknown_crop_is_accepted_but_species_must_be_known() -> None:
    """The harvest model learns any crop from its seasons; growth needs a yield table."""
    assert check_asset(FieldAsset("s", "f", "", "wasabi", 0.1), today=TODAY) == []
    stand = StandAsset("s", "t", "", "oak", 1.0, 10.0, "2025-01-01")
    assert _fields(check_asset(stand, today=TODAY)) == {"species"}


def test_bin_quantities() -> None:
    """Unit weight > 0, tare >= 0, capacity > 0, reorder point within capacity, tolerance >= 0."""
    bad = BinAsset(
        "s", "b", "gw", "", 0.0, 0, "", "", -1.0, reorder_point=10, tare_kg=-1.0, tolerance=-2
    )
    errors = check_asset(bad, today=TODAY)
    assert _fields(errors) == {
        "item",
        "unit_kg",
        "capacity",
        "weight_sensor",
        "lead_time_h",
        "reorder_point",
        "tare_kg",
        "tolerance",
    }
    over = BinAsset("s", "b", "", "x", 1.0, 100, "", "", 1.0, reorder_point=101)
    assert any("容量" in e.ja for e in check_asset(over, today=TODAY))


def test_record_kind_must_fit_the_asset() -> None:
    """A harvest is of a field; a stocktake of a bin; quantity where it means something."""
    harvest = WorkRecord("s", "b", RecordKind.HARVEST, NOW_MS, quantity=10.0)
    assert check_record(harvest, asset_kind=AssetKind.FIELD, now_ms=NOW_MS) == []
    wrong = check_record(harvest, asset_kind=AssetKind.BIN, now_ms=NOW_MS)
    assert _fields(wrong) == {"kind"}
    assert "圃場" in wrong[0].ja
    missing = check_record(harvest, asset_kind=None, now_ms=NOW_MS)
    assert _fields(missing) == {"asset"}
    no_quantity = WorkRecord("s", "b", RecordKind.STOCKTAKE, NOW_MS)
    assert _fields(check_record(no_quantity, asset_kind=AssetKind.BIN, now_ms=NOW_MS)) == {
        "quantity"
    }
    spraying = WorkRecord("s", "f", RecordKind.SPRAYING, NOW_MS, product="Bordeaux")
    assert check_record(spraying, asset_kind=AssetKind.FIELD, now_ms=NOW_MS) == []
    negative = WorkRecord("s", "f", RecordKind.DELIVERY, NOW_MS, quantity=-1, unit="kg")
    assert _fields(check_record(negative, asset_kind=AssetKind.BIN, now_ms=NOW_MS)) == {
        "quantity",
        "unit",
    }


def test_record_time_not_beyond_a_day_ahead() -> None:
    """A record dated tomorrow is accepted (clocks, zones), next week is not."""
    soon = WorkRecord("s", "f", RecordKind.PLANTING, NOW_MS + 23 * 3_600_000)
    assert check_record(soon, asset_kind=AssetKind.FIELD, now_ms=NOW_MS) == []
    later = WorkRecord("s", "f", RecordKind.PLANTING, NOW_MS + 7 * 86_400_000)
    assert _fields(check_record(later, asset_kind=AssetKind.FIELD, now_ms=NOW_MS)) == {"at"}


def test_a_date_alone_is_the_same_day_in_japan_and_utc() -> None:
    """2026-05-01 is noon in Japan: 03:00 UTC on the same date."""
    assert parse_at("2026-05-01") == int(
        dt.datetime(2026, 5, 1, 3, tzinfo=dt.UTC).timestamp() * 1000
    )
    assert parse_at("2026-05-01T10:00:00Z") == parse_at("2026-05-01T19:00:00+09:00")


def test_the_lists_are_the_models_own() -> None:
    """The known crops and species are those the harvest and growth models have."""
    from models.forest.species import SPECIES as TRAITS
    from models.harvest.predict import KnownCrop
    from models.sites.validation import KNOWN_CROPS, SPECIES

    assert set(KNOWN_CROPS) == {c.value for c in KnownCrop}
    assert set(SPECIES) == {s.value for s in TRAITS}
