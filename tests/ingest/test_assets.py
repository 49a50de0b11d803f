"""The asset registry round-trips through a real InfluxDB; the newest description wins."""

from __future__ import annotations

import pytest
from support import Services, make_influx

from storage.assets import (
    BinAsset,
    FieldAsset,
    SiteAsset,
    SiteKind,
    StandAsset,
    read_assets,
    write_assets,
)

pytestmark = pytest.mark.integration


def test_assets_round_trip_and_newest_wins(services: Services, database: str) -> None:
    """Every kind comes back equal; a rewrite replaces; tenants never mix."""
    store = make_influx(services.influx, database)
    store.ensure_database()
    site = SiteAsset(
        "川上村 01", SiteKind.FARM, "川上村 第1圃場", "Kawakami field 1", 35.9, 138.6, 1185.0
    )
    field = FieldAsset(
        "川上村 01", "lettuce-a", "lettuce-a", "lettuce", 1.2, ("2025-05-05", "2025-07-01")
    )
    stand = StandAsset("minamimaki-01", "larch-a", "larch-a", "larch", 3.5, 45.0, "2025-01-01")
    old_bin = BinAsset(
        "suwa",
        "screws",
        "gw",
        'M3 "screws", 1,000',
        0.0012,
        40_000,
        "screws_weight",
        "screws_count",
        24.0,
    )
    new_bin = BinAsset(
        "suwa",
        "screws",
        "gw",
        "M3 screws",
        0.0012,
        40_000,
        "screws_weight",
        "screws_count",
        36.0,
        12_000,
    )
    write_assets(store, "alpha", [site, field, stand, old_bin], now_ms=1_000)
    write_assets(store, "alpha", [new_bin], now_ms=2_000)
    write_assets(store, "beta", [old_bin], now_ms=3_000)

    alpha = read_assets(store, "alpha")
    assert alpha.sites == {site.site: site}
    assert alpha.fields == {field.site: [field]}
    assert alpha.stands == {stand.site: [stand]}
    assert alpha.bins == {"suwa": [new_bin]}
    assert alpha.bin_for("suwa", "gw", "screws_count") == new_bin
    assert alpha.bin_for("suwa", "gw", "other") is None
    assert alpha.unreadable == 0
    assert read_assets(store, "beta").all_bins() == [old_bin]
    assert read_assets(store, "alpha", sites=["suwa"]).sites == {}
    assert field.planting_dates()[0].isoformat() == "2025-05-05"
