"""The asset descriptions of a scenario match its specifications and survive the store."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
from support import Services, make_influx

from simulators.assets import GATEWAY, scenario_assets
from simulators.backfill import backfill
from simulators.factory import DEFAULT_FACTORIES, Replenishment
from simulators.farm import DEFAULT_FIELDS
from simulators.forest import DEFAULT_STANDS, chapman_richards
from simulators.scenario import Scenario, Truth, simulate_sites
from simulators.truth import Crop
from storage.assets import BinAsset, FieldAsset, SiteAsset, SiteKind, StandAsset, read_assets

JST = dt.timezone(dt.timedelta(hours=9))
# 2 July JST: half a year after the stands' reference date, before the apples' harvest.
START_MS = int(dt.datetime(2025, 7, 2, tzinfo=JST).timestamp() * 1000)


def _scenario(farms: int, forests: int, factories: int, days: int, step_ms: int) -> Scenario:
    return Scenario(farms, forests, factories, START_MS, days * 86_400_000, step_ms, seed=5)


def test_assets_describe_every_simulated_site_and_device() -> None:
    """One site description per site, and the device of each asset is the one that reports."""
    scenario = _scenario(11, 6, 4, days=2, step_ms=3_600_000)
    assets = scenario_assets(scenario)
    sites = {a.site: a for a in assets if isinstance(a, SiteAsset)}
    simulated = list(simulate_sites(scenario, Truth()))
    assert sorted(sites) == sorted(s.site for s in simulated)
    assert len(sites) == 11 + 6 + 4
    for site in simulated:
        described = [a for a in assets if a.site == site.site and not isinstance(a, SiteAsset)]
        assert described and {a.device for a in described} == {site.device}  # type: ignore[union-attr]
        if isinstance(described[0], BinAsset):
            sensors = {s.sensor for s in site.series}
            for b in described:
                assert isinstance(b, BinAsset)
                assert {b.weight_sensor, b.count_sensor} <= sensors
    # Numbered copies keep the place and coordinates of the site they copy.
    copy = sites["kawakami-01-2"]
    assert copy.kind is SiteKind.FARM
    original = sites["kawakami-01"]
    assert (copy.latitude, copy.longitude) == (original.latitude, original.longitude)
    assert sites["suwa-precision-2"].name_en == "Suwa Precision plant 2"


def test_sites_fields_stands_and_bins_match_their_specifications() -> None:
    """Coordinates, crops, areas, ages, inventory and bin parameters come from the specs."""
    scenario = _scenario(10, 5, 3, days=2, step_ms=3_600_000)
    assets = scenario_assets(scenario)
    by_site = {(a.site, type(a)): a for a in assets}
    for spec in DEFAULT_FIELDS:
        site = by_site[spec.site, SiteAsset]
        assert isinstance(site, SiteAsset) and site.kind is SiteKind.FARM
        climate = spec.climate
        assert (site.latitude, site.longitude, site.altitude_m) == (
            climate.latitude,
            climate.longitude,
            climate.elevation_m,
        )
        assert site.name_ja and site.name_en
        field = by_site[spec.site, FieldAsset]
        assert isinstance(field, FieldAsset)
        assert (field.asset, field.device, field.crop) == (spec.name, spec.name, spec.crop.value)
        assert field.area_ha > 0
        if spec.crop is not Crop.APPLE:
            expected = [dt.date(2025, 1, 1) + dt.timedelta(days=d - 1) for d in spec.plantings]
            assert field.planting_dates() == expected
    for stand_spec in DEFAULT_STANDS:
        forest = by_site[stand_spec.site, SiteAsset]
        assert isinstance(forest, SiteAsset) and forest.kind is SiteKind.FOREST
        assert forest.altitude_m == stand_spec.climate.elevation_m
        stand = by_site[stand_spec.site, StandAsset]
        assert isinstance(stand, StandAsset)
        assert (stand.device, stand.species) == (stand_spec.name, stand_spec.species.value)
        assert stand.age_on == "2025-07-02"
        # 182 of 365 days of the year are gone on 2 July.
        assert stand.age_years == pytest.approx(stand_spec.age + 182 / 365, abs=1e-4)
        assert stand.volume_m3_ha == pytest.approx(
            float(chapman_richards(stand.age_years, stand_spec.species)), abs=0.01
        )
        assert stand.dbh_cm == stand_spec.dbh_cm
    for factory in DEFAULT_FACTORIES:
        site = by_site[factory.site, SiteAsset]
        assert isinstance(site, SiteAsset) and site.kind is SiteKind.FACTORY
        bins = {a.asset: a for a in assets if isinstance(a, BinAsset) and a.site == factory.site}
        assert sorted(bins) == sorted(b.name for b in factory.bins)
        for spec_bin in factory.bins:
            b = bins[spec_bin.name]
            assert b.device == GATEWAY
            assert (b.weight_sensor, b.count_sensor) == (
                f"{spec_bin.name}_weight",
                f"{spec_bin.name}_count",
            )
            assert (b.unit_kg, b.capacity, b.lead_time_h) == (
                spec_bin.unit_kg,
                spec_bin.capacity,
                spec_bin.lead_time_h,
            )
            ordered = spec_bin.policy is Replenishment.REORDER_POINT
            assert b.reorder_point == (spec_bin.reorder_point if ordered else None)


def test_planting_dates_are_the_simulated_seasons_plantings() -> None:
    """Every simulated season's planting (apple: bloom) date is among the field's plantings."""
    start = int(dt.datetime(2025, 1, 1, tzinfo=JST).timestamp() * 1000)
    scenario = Scenario(10, 0, 0, start, 365 * 86_400_000, 6 * 3_600_000, seed=9)
    fields = {a.site: a for a in scenario_assets(scenario) if isinstance(a, FieldAsset)}
    truth = Truth()
    for _ in simulate_sites(scenario, truth):
        pass
    assert {s.crop for s in truth.seasons} == set(Crop)
    for season in truth.seasons:
        assert season.planted in fields[season.site].planting_dates(), season
    apples = [f for f in fields.values() if f.crop == Crop.APPLE.value]
    # One bloom per orchard and year, in spring.
    assert all(len(f.plantings) == 1 and f.plantings[0][5:7] in ("04", "05") for f in apples)


def test_blooms_after_the_window_are_not_listed() -> None:
    """A window that ends before the apples bloom lists no bloom date for the orchards."""
    start = int(dt.datetime(2025, 1, 1, tzinfo=JST).timestamp() * 1000)
    scenario = Scenario(7, 0, 0, start, 60 * 86_400_000, 3_600_000, seed=9)
    fields = [a for a in scenario_assets(scenario) if isinstance(a, FieldAsset)]
    assert [f.plantings for f in fields if f.crop == Crop.APPLE.value] == [(), (), ()]
    lettuce = next(f for f in fields if f.crop == Crop.LETTUCE.value)
    assert len(lettuce.plantings) == 2


@pytest.mark.integration
def test_backfill_writes_the_assets_and_they_round_trip(services: Services, database: str) -> None:
    """After a backfill the store's registry is exactly the scenario's assets."""
    store = make_influx(services.influx, database)
    store.ensure_database()
    scenario = _scenario(2, 2, 1, days=3, step_ms=3_600_000)
    backfill(scenario, store, "t-assets", Truth(), progress=lambda _line: None)
    expected = scenario_assets(scenario)
    registry = read_assets(store, "t-assets")
    assert registry.unreadable == 0
    assert registry.sites == {a.site: a for a in expected if isinstance(a, SiteAsset)}
    for kind, found in (
        (FieldAsset, registry.fields),
        (StandAsset, registry.stands),
        (BinAsset, registry.bins),
    ):
        stored = sorted((a for assets in found.values() for a in assets), key=_order)
        assert stored == sorted((a for a in expected if isinstance(a, kind)), key=_order)
    assert read_assets(store, "another-tenant").sites == {}
    # The stored plantings are real dates; the stands' inventory survives as numbers.
    stand = next(iter(registry.stands.values()))[0]
    assert stand.volume_m3_ha is not None and np.isfinite(stand.volume_m3_ha)
    assert dataclasses.asdict(stand)["dbh_cm"] == stand.dbh_cm


def _order(asset: object) -> tuple[str, str]:
    return (asset.site, asset.asset)  # type: ignore[attr-defined]
