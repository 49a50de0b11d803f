"""Quantity confirmation on a real store: book, measured and counted stock from raw points."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import make_influx

from core.time import MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE
from models.stock.quantity import book_at, default_tolerance, tolerance_of
from models.stock.quantity_service import QuantityService
from storage.alert_types import AlertKind, AlertState
from storage.alerts import AlertStore
from storage.assets import BinAsset, write_assets
from storage.layout import DEVICE, SENSOR, SITE, TENANT, VALUE
from storage.points import Point
from storage.protocol import ReadingStore
from storage.records import RecordKind, WorkRecord, void_record, write_records
from storage.series import AssetReader
from storage.sqlite.store import SqliteStore

TENANT_ID = "alpha"
SITE_ID = "suwa-precision"
T0 = 1_793_491_200_000  # 2026-11-01 00:00 UTC
END = T0 + 2 * MS_PER_DAY
BIN = BinAsset(
    SITE_ID,
    "bolts",
    "gw-1",
    "M6 bolts",
    0.5,
    1_000,
    "bolts_weight",
    "bolts_count",
    24.0,
    tare_kg=2.0,
    tolerance=5,
)


@pytest.fixture(params=[pytest.param("influxdb", marks=pytest.mark.integration), "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReadingStore]:
    """An empty store: a fresh database on the session's influxd, or a SQLite file."""
    if request.param == "sqlite":
        sqlite = SqliteStore(tmp_path / "store.sqlite3")
        yield sqlite
        sqlite.close()
        return
    services = request.getfixturevalue("services")
    influx = make_influx(services.influx, f"quantity_{uuid.uuid4().hex[:12]}")
    influx.ensure_database()
    yield influx


def items_on_scale(at_ms: int, *, theft_at: int | None = None) -> int:
    """What physically lies in the bin: 400, +100 at 10:05, −50 at 20:05 (and a theft)."""
    items = 400
    if at_ms >= T0 + 10 * MS_PER_HOUR + 5 * MS_PER_MINUTE:
        items += 100
    if at_ms >= T0 + 20 * MS_PER_HOUR + 5 * MS_PER_MINUTE:
        items -= 50
    if theft_at is not None and at_ms >= theft_at:
        items -= 30
    return items


def raw_readings(theft_at: int | None = None) -> list[tuple[int, float, float]]:
    """(time, load-cell kg, counter) every 10 minutes over two days."""
    out = []
    for at in range(T0, END + 1, 10 * MS_PER_MINUTE):
        items = items_on_scale(at, theft_at=theft_at)
        out.append((at, BIN.tare_kg + BIN.unit_kg * items + 0.01, float(items)))
    return out


def write_readings(store: ReadingStore, rows: list[tuple[int, float, float]]) -> None:
    points = []
    for at, kg, count in rows:
        for kind, sensor, value in (
            ("bin_weight", BIN.weight_sensor, kg),
            ("item_count", BIN.count_sensor, count),
        ):
            tags = {DEVICE: BIN.device, SENSOR: sensor, SITE: SITE_ID, TENANT: TENANT_ID}
            points.append(Point(kind, tags, {VALUE: value}, at))
    assert store.write_points(points) == []


def movements() -> list[WorkRecord]:
    return [
        WorkRecord(SITE_ID, "bolts", RecordKind.BOOK_STOCK, T0 + MS_PER_HOUR, quantity=400),
        WorkRecord(SITE_ID, "bolts", RecordKind.DELIVERY, T0 + 10 * MS_PER_HOUR, quantity=100),
        WorkRecord(SITE_ID, "bolts", RecordKind.WITHDRAWAL, T0 + 20 * MS_PER_HOUR, quantity=50),
    ]


def service(store: ReadingStore) -> QuantityService:
    return QuantityService(
        store, AssetReader(store, 0.0), AlertStore(store), clock=lambda: END / 1000
    )


def quantity_alerts(store: ReadingStore) -> list[str]:
    views = AlertStore(store).list_alerts(TENANT_ID, AlertState.ALL, limit=1000)
    return [v.alert.id for v in views if v.alert.kind is AlertKind.QUANTITY]


def setup(store: ReadingStore, records: list[WorkRecord], theft_at: int | None = None) -> list:
    rows = raw_readings(theft_at)
    write_assets(store, TENANT_ID, [BIN], now_ms=END)  # registered after the readings began
    write_readings(store, rows)
    write_records(store, TENANT_ID, records)
    return rows


def by_hand(rows: list[tuple[int, float, float]], records: list[WorkRecord], at: int) -> tuple:
    """Book, weighed and counter stock at `at`, straight from the raw rows and records."""
    before = [r for r in rows if r[0] <= at]
    _, kg, count = before[-1]
    opening = [r for r in records if r.kind in (RecordKind.BOOK_STOCK, RecordKind.STOCKTAKE)]
    opening = [r for r in opening if r.at_ms <= at]
    book = None
    if opening:
        o = opening[-1]
        book = o.quantity or 0.0
        for r in records:
            if o.at_ms < r.at_ms <= at and r.kind is RecordKind.DELIVERY:
                book += r.quantity or 0.0
            if o.at_ms < r.at_ms <= at and r.kind is RecordKind.WITHDRAWAL:
                book -= r.quantity or 0.0
    return book, (kg - BIN.tare_kg) / BIN.unit_kg, count


def test_book_measured_and_discrepancy_equal_the_raw_points_and_records(
    store: ReadingStore,
) -> None:
    """Every point over two days: book, measured, counter and discrepancy as computed by hand."""
    records = movements()
    rows = setup(store, records)
    answer = service(store).bin(TENANT_ID, SITE_ID, "bolts", T0, END)
    assert answer.tolerance == 5.0 and not answer.tolerance_default
    times = [p.at_ms for p in answer.points]
    # Hourly steps and every record.
    assert {r.at_ms for r in records} <= set(times)
    assert {T0 + h * MS_PER_HOUR for h in range(49)} <= set(times)
    assert times == sorted(times)
    for p in answer.points:
        book, weighed, count = by_hand(rows, records, p.at_ms)
        assert p.book == book
        assert p.weighed == pytest.approx(weighed)
        assert p.measured == pytest.approx(weighed)
        assert p.counter == count
        if book is None:
            assert p.discrepancy is None
        else:
            assert p.discrepancy == pytest.approx(book - weighed)
            assert p.counter_discrepancy == pytest.approx(book - count)
    at = {p.at_ms: p for p in answer.points}
    # Right at the delivery the goods are not on the scale yet (the point shows it) ...
    assert at[T0 + 10 * MS_PER_HOUR].discrepancy == pytest.approx(100 - 0.02)
    # ... an hour later book and measured agree again.
    assert at[T0 + 11 * MS_PER_HOUR].book == 500
    assert at[T0 + 11 * MS_PER_HOUR].discrepancy == pytest.approx(-0.02)
    assert answer.now.book == 450
    # Transient differences at a movement raise no alert.
    assert answer.alerts == [] and quantity_alerts(store) == []
    assert book_at(records, T0) is None


def test_stocktake_beyond_tolerance_raises_one_alert(store: ReadingStore) -> None:
    """Counted 440 where the scale says 450: one alert, and checking again adds none."""
    take = WorkRecord(SITE_ID, "bolts", RecordKind.STOCKTAKE, T0 + 30 * MS_PER_HOUR, quantity=440)
    records = [*movements(), take]
    rows = setup(store, records)
    svc = service(store)
    [now] = svc.bins(TENANT_ID)
    _, weighed, _ = by_hand(rows, records, take.at_ms)
    assert now.last_stocktake is not None
    assert now.last_stocktake.counted == 440
    assert now.last_stocktake.discrepancy == pytest.approx(440 - weighed)
    assert now.over_tolerance
    [explained] = now.alerts
    alert = explained.alert
    assert alert.kind is AlertKind.QUANTITY
    assert alert.ts_ms == take.at_ms
    assert (alert.site, alert.device, alert.sensor) == (SITE_ID, "gw-1", "bolts_weight")
    assert "stocktake counted 440" in alert.reason and "棚卸数 440 個" in alert.reason_ja
    assert explained.en == alert.reason and explained.ja == alert.reason_ja
    assert "棚卸" not in explained.en and "stocktake" not in explained.ja
    assert quantity_alerts(store) == [alert.id]
    # Checked again on every read, through another window, and after a new record: still one.
    svc.bins(TENANT_ID)
    svc.bin(TENANT_ID, SITE_ID, "bolts", T0, END)
    svc.check_records(TENANT_ID, [take])
    svc.check(TENANT_ID)
    assert quantity_alerts(store) == [alert.id]


def test_stocktake_within_tolerance_raises_none(store: ReadingStore) -> None:
    """Counted 452 where the scale says 450: within 5, no alert."""
    take = WorkRecord(SITE_ID, "bolts", RecordKind.STOCKTAKE, T0 + 30 * MS_PER_HOUR, quantity=452)
    setup(store, [*movements(), take])
    [now] = service(store).bins(TENANT_ID)
    assert now.last_stocktake is not None and not now.last_stocktake.over
    assert now.now.book == 452
    assert not now.over_tolerance
    assert now.alerts == [] and quantity_alerts(store) == []


def test_unrecorded_withdrawal_drifts_the_book_and_raises_an_alert(store: ReadingStore) -> None:
    """30 items leave without a record after a good stocktake: the book stock alert follows."""
    take = WorkRecord(SITE_ID, "bolts", RecordKind.STOCKTAKE, T0 + 30 * MS_PER_HOUR, quantity=450)
    theft = T0 + 40 * MS_PER_HOUR + 30 * MS_PER_MINUTE
    setup(store, [*movements(), take], theft_at=theft)
    svc = service(store)
    [now] = svc.bins(TENANT_ID)
    assert now.now.discrepancy == pytest.approx(30 - 0.02)
    [explained] = now.alerts
    alert = explained.alert
    # Raised at the opening the book stock is kept from, last seen at the newest hourly step.
    assert alert.ts_ms == take.at_ms
    assert alert.last_seen_ms == END
    assert "book stock 450.0" in alert.reason and "帳簿在庫" in alert.reason_ja
    svc.bins(TENANT_ID)
    assert quantity_alerts(store) == [alert.id]


def test_a_withdrawal_entered_late_withdraws_the_alert_it_accounts_for(
    store: ReadingStore,
) -> None:
    """The 30 items that left unrecorded are entered afterwards as a withdrawal: the alert is
    resolved in the clerk's name, saying which record accounts for it; entering only 10 of them
    leaves it open."""
    take = WorkRecord(SITE_ID, "bolts", RecordKind.STOCKTAKE, T0 + 30 * MS_PER_HOUR, quantity=450)
    theft = T0 + 40 * MS_PER_HOUR + 30 * MS_PER_MINUTE
    setup(store, [*movements(), take], theft_at=theft)
    svc = service(store)
    [alert] = [a.alert for a in svc.bins(TENANT_ID)[0].alerts]
    part = WorkRecord(
        SITE_ID, "bolts", RecordKind.WITHDRAWAL, theft, record="w-10", quantity=10, by="key-clerk"
    )
    write_records(store, TENANT_ID, [part])
    svc.check_records(TENANT_ID, [part])
    assert AlertStore(store).get(TENANT_ID, alert.id).state is AlertState.OPEN
    # The clerk corrects the record to all 30 (a new record at the same moment replaces it).
    rest = WorkRecord(
        SITE_ID, "bolts", RecordKind.WITHDRAWAL, theft, record="w-30", quantity=30, by="key-clerk"
    )
    write_records(store, TENANT_ID, [rest])
    voided = void_record(store, TENANT_ID, part, by="key-clerk", now_ms=END)
    svc.check_records(TENANT_ID, [rest, voided])
    view = AlertStore(store).get(TENANT_ID, alert.id)
    assert view.state is AlertState.RESOLVED
    assert view.resolved is not None and view.resolved.by == "key-clerk"
    assert "w-30" in view.resolved.note and "w-10" not in view.resolved.note
    assert "説明されました" in view.resolved.note
    assert "account for the difference" in view.resolved.note
    svc.bins(TENANT_ID)
    svc.check(TENANT_ID)
    assert AlertStore(store).get(TENANT_ID, alert.id).state is AlertState.RESOLVED
    assert quantity_alerts(store) == [alert.id]


def test_default_tolerance() -> None:
    """2 % of capacity, at least one item."""
    assert default_tolerance(1_000) == 20.0
    assert default_tolerance(10) == 1.0
    assert tolerance_of(BinAsset(SITE_ID, "b", "d", "i", 1.0, 500, "w", "c", 1.0)) == 10.0


def test_voiding_the_stocktake_withdraws_its_alert(store: ReadingStore) -> None:
    """Counted 440 (a typo for 450) raises an alert; the operator voids the record: the alert is
    resolved in the operator's name with a note saying why, and a check raises it no more."""
    take = WorkRecord(SITE_ID, "bolts", RecordKind.STOCKTAKE, T0 + 30 * MS_PER_HOUR, quantity=440)
    setup(store, [*movements(), take])
    svc = service(store)
    [alert] = [a.alert for a in svc.bins(TENANT_ID)[0].alerts]
    voided = void_record(store, TENANT_ID, take, by="key-op", now_ms=END)
    svc.check_records(TENANT_ID, [voided])
    view = AlertStore(store).get(TENANT_ID, alert.id)
    assert view.state is AlertState.RESOLVED
    assert view.resolved is not None and view.resolved.by == "key-op"
    assert voided.record in view.resolved.note
    assert "取り消されました" in view.resolved.note and "was voided" in view.resolved.note
    svc.bins(TENANT_ID)
    svc.check(TENANT_ID)
    assert AlertStore(store).get(TENANT_ID, alert.id).state is AlertState.RESOLVED
    assert quantity_alerts(store) == [alert.id]


def test_a_voided_stocktake_replaced_at_the_same_time_keeps_a_still_true_alert(
    store: ReadingStore,
) -> None:
    """The 440 is voided and 430 entered for the same moment: still beyond tolerance, so the
    alert of that moment stays open; a stocktake of another bin is not touched either."""
    take = WorkRecord(SITE_ID, "bolts", RecordKind.STOCKTAKE, T0 + 30 * MS_PER_HOUR, quantity=440)
    setup(store, [*movements(), take])
    svc = service(store)
    [alert] = [a.alert for a in svc.bins(TENANT_ID)[0].alerts]
    again = WorkRecord(SITE_ID, "bolts", RecordKind.STOCKTAKE, take.at_ms, quantity=430)
    write_records(store, TENANT_ID, [again])
    voided = void_record(store, TENANT_ID, take, by="key-op", now_ms=END)
    svc.check_records(TENANT_ID, [again, voided])
    assert AlertStore(store).get(TENANT_ID, alert.id).state is AlertState.OPEN
    other = WorkRecord(SITE_ID, "nuts", RecordKind.STOCKTAKE, take.at_ms, quantity=1)
    svc.check_records(TENANT_ID, [void_record(store, TENANT_ID, other, by="key-op", now_ms=END)])
    assert AlertStore(store).get(TENANT_ID, alert.id).state is AlertState.OPEN
