"""The stock-out forecast knows recorded deliveries: their rises are not negative use, and a
delivery expected after now lifts the stock when it is due; through the stock service too."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from core.time import MS_PER_HOUR
from edge.protocol import DeviceTopic, SensorKind
from models.stock.service import StockService
from models.stock.stockout import Delivery, forecast_stockout
from simulators.register import add_records, save_assets
from storage.assets import BinAsset, SiteAsset, SiteKind
from storage.batch import ChannelReadings
from storage.records import RecordKind, WorkRecord
from storage.series import AssetReader
from storage.sqlite.store import SqliteStore

START_MS = int(dt.datetime(2025, 10, 6, tzinfo=dt.UTC).timestamp() * 1000)
DAYS = 21
RATE = 2.0  # items an hour, every hour
STEP_MS = 600_000
DELIVERY = 9.0  # small: below what the level alone would call a refill


def _history(seed: int = 0) -> tuple[np.ndarray, np.ndarray, tuple[Delivery, ...]]:
    """Readings of a bin used at a steady rate and topped up by a small delivery each day."""
    ts = START_MS + STEP_MS * np.arange(DAYS * 24 * 6, dtype=np.int64)
    hours = (ts - START_MS) / MS_PER_HOUR
    at = [START_MS + (24 * k + 8 + 5 * k % 9) * MS_PER_HOUR + 1_200_000 for k in range(DAYS)]
    delivered = np.sum([DELIVERY * (ts >= a) for a in at], axis=0)
    noise = 0.05 * np.random.default_rng(seed).standard_normal(len(ts))
    level = 1_400.0 - RATE * hours + delivered + noise
    return ts, level, tuple(Delivery(a, DELIVERY) for a in at)


def test_recorded_deliveries_are_not_counted_as_negative_use() -> None:
    """Without the records the small deliveries look like use going backwards and the stock
    seems to last longer; with them the forecast is what the steady rate gives."""
    ts, level, deliveries = _history()
    truth = float(level[-1]) / RATE
    blind = forecast_stockout(ts, level, lead_time_h=24.0)
    told = forecast_stockout(ts, level, lead_time_h=24.0, deliveries=deliveries)
    assert told.hours_median == pytest.approx(truth, rel=0.03)
    assert blind.hours_median > told.hours_median + 10.0
    assert abs(told.hours_median - truth) < abs(blind.hours_median - truth)


def test_an_expected_delivery_extends_the_forecast() -> None:
    """A delivery recorded for ten hours from now adds its quantity's worth of hours."""
    ts, level, deliveries = _history()
    now = int(ts[-1])
    told = forecast_stockout(ts, level, lead_time_h=24.0, deliveries=deliveries)
    coming = (*deliveries, Delivery(now + 10 * MS_PER_HOUR, 300.0))
    later = forecast_stockout(ts, level, lead_time_h=24.0, deliveries=coming)
    assert later.hours_median == pytest.approx(told.hours_median + 300.0 / RATE, rel=0.03)
    # Too late to help: due after the stock has run out, it cannot stop the stock-out.
    late = (*deliveries, Delivery(now + round((told.hours_median + 50) * MS_PER_HOUR), 300.0))
    after = forecast_stockout(ts, level, lead_time_h=24.0, deliveries=late)
    assert after.hours_median == pytest.approx(told.hours_median, rel=0.01)


def test_the_stock_service_reads_the_bins_delivery_records(tmp_path: Path) -> None:
    """The bin's delivery records (items) reach the forecast of its load cell (kg)."""
    store = SqliteStore(tmp_path / "store.sqlite3", timeout=30.0)
    store.ensure_database()
    tenant, unit_kg = "gamma", 0.5
    bin_ = BinAsset("works-01", "bolts", "gw", "bolts", unit_kg, 3_000, "w", "c", 48.0)
    site = SiteAsset(bin_.site, SiteKind.FACTORY, "工場", "works", 36.0, 138.0, 700.0)
    save_assets(store, tenant, [site, bin_])
    ts, level, deliveries = _history(seed=1)
    topic = DeviceTopic(tenant, bin_.site, bin_.device)
    weights = (level * unit_kg).tolist()
    store.write_channel(ChannelReadings(topic, "w", SensorKind.BIN_WEIGHT, ts.tolist(), weights))

    def hours() -> float:
        [status] = StockService(AssetReader(store, ttl_s=0.0), ttl_s=0.0).bins(tenant)
        assert status.stockout is not None, status.unavailable
        return status.stockout.forecast.hours_median

    blind = hours()
    records = [
        WorkRecord(bin_.site, bin_.asset, RecordKind.DELIVERY, d.at_ms, quantity=d.quantity)
        for d in deliveries
    ]
    add_records(store, tenant, records)
    told = hours()
    assert told == pytest.approx(float(level[-1]) / RATE, rel=0.03)
    assert told < blind - 10.0
