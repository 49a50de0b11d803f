"""Quantity confirmation on the factory page: a stocktake beyond the tolerance shows its alert,
with the discrepancy the raw load-cell reading and the record give, in both languages."""

from __future__ import annotations

import httpx
import pytest
from browser.ui_support import END_MS, Browse, route_of, screenshot, wait_js

from core.time import MS_PER_HOUR
from dashboard.keys import Role
from edge.protocol import SensorKind
from models.stock.quantity import tolerance_of
from storage.assets import BinAsset, read_assets
from storage.records import RecordKind, WorkRecord, write_records
from storage.series import AssetReader

pytestmark = pytest.mark.integration

SHOWN_WITHIN_MS = 20_000


def _stocktake_beyond_tolerance(browse: Browse) -> tuple[BinAsset, WorkRecord, float]:
    """Store a stocktake of the factory's first bin, three tolerances off the load cell.

    Returns the bin, the record and the discrepancy computed by hand from the raw reading.
    """
    env = browse.env
    site = env.sites["factory"]
    bin_ = sorted(read_assets(env.store, "alpha").bins[site], key=lambda b: b.asset)[0]
    raw = AssetReader(env.store, 0.0).history(
        "alpha",
        SensorKind.BIN_WEIGHT,
        (site, bin_.device, bin_.weight_sensor),
        END_MS - 3 * MS_PER_HOUR,
        END_MS - 2 * MS_PER_HOUR,
    )
    at_ms, weight = int(raw.ts_ms[-1]), float(raw.values[-1])
    measured = (weight - bin_.tare_kg) / bin_.unit_kg
    off = 3 * tolerance_of(bin_)
    counted = float(round(measured - off if measured > off else measured + off))
    record = WorkRecord(site, bin_.asset, RecordKind.STOCKTAKE, at_ms, quantity=counted, by="t")
    write_records(env.store, "alpha", [record])
    return bin_, record.with_id(), counted - measured


def test_stocktake_beyond_tolerance_shows_its_alert_on_the_factory_page(browse: Browse) -> None:
    """The bin's quantity check and the alert list show it; the numbers are the raw ones."""
    bin_, record, by_hand = _stocktake_beyond_tolerance(browse)
    env = browse.env
    for viewport in ("phone", "desktop"):
        probe = browse.open(
            route_of("factory", env.sites), role=Role.VIEWER, lang="ja", viewport=viewport
        )
        page = probe.page
        box = page.locator(f'[data-quantity="{bin_.asset}"]')
        box.locator("[data-quantity-alert]").wait_for(timeout=SHOWN_WITHIN_MS)
        alert_id = box.locator("[data-quantity-alert]").first.get_attribute("data-quantity-alert")
        assert "棚卸数" in box.inner_text() and "許容差超過" in box.inner_text()
        counted = box.locator('[data-field="counted"]').get_attribute("data-raw")
        assert float(counted or "nan") == record.quantity
        shown = box.locator('[data-field="stocktake-discrepancy"]').get_attribute("data-raw")
        assert float(shown or "nan") == pytest.approx(by_hand)
        # The same alert in the site's alert list, under its kind's name.
        listed = page.locator(f'#alerts [data-alert-id="{alert_id}"]')
        listed.wait_for(timeout=SHOWN_WITHIN_MS)
        assert "数量の不一致" in listed.inner_text()
        screenshot(page, f"quantity-alert-{viewport}-ja")
        probe.clean()
    # Stored once, however many pages checked it.
    alerts = httpx.get(
        f"{env.url}/api/v1/tenants/alpha/alerts",
        params={"state": "all", "limit": 1000},
        headers={"X-API-Key": env.token(Role.VIEWER)},
    ).json()
    mine = [a for a in alerts if a["kind"] == "quantity_discrepancy" and a["id"] == alert_id]
    assert len(mine) == 1
    assert mine[0]["sensor"] == bin_.weight_sensor


def test_the_discrepancy_alert_reads_in_english(browse: Browse) -> None:
    """In English the quantity check and its alert are English."""
    bin_, record, _ = _stocktake_beyond_tolerance(browse)
    probe = browse.open(route_of("factory", browse.env.sites), role=Role.OPERATOR, lang="en")
    page = probe.page
    box = page.locator(f'[data-quantity="{bin_.asset}"]')
    box.locator("[data-quantity-alert]").wait_for(timeout=SHOWN_WITHIN_MS)
    wait_js(page, "document.querySelector('.quantity-chart') !== null")
    text = box.inner_text()
    assert "Quantity discrepancy" in text and "Beyond tolerance" in text
    assert f"stocktake counted {record.quantity:g}" in text
    assert "棚卸" not in text
    screenshot(page, "quantity-alert-desktop-en")
    probe.clean()
