"""Quantity confirmation through the API: book, measured and counted stock, and the alert."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import Services, make_influx

from core.settings import Settings, load_api_settings
from core.time import MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE, iso_utc
from dashboard.app import create_app
from dashboard.keys import Role
from storage.assets import BinAsset, write_assets
from storage.influx.client import InfluxStore
from storage.layout import DEVICE, SENSOR, SITE, TENANT, VALUE
from storage.points import Point
from storage.records import RecordKind, WorkRecord, write_records

pytestmark = pytest.mark.integration

SITE_ID = "suwa-precision"
NOW_MS = int(time.time() * 1000)
T0 = NOW_MS // MS_PER_HOUR * MS_PER_HOUR - 2 * MS_PER_DAY


def a_bin(asset: str, tolerance: int | None) -> BinAsset:
    return BinAsset(
        SITE_ID,
        asset,
        "gw-1",
        f"{asset} M6",
        0.5,
        1_000,
        f"{asset}_weight",
        f"{asset}_count",
        24.0,
        tare_kg=2.0,
        tolerance=tolerance,
    )


BOLTS = a_bin("bolts", 5)
NUTS = a_bin("nuts", None)  # default tolerance: 2 % of 1,000 = 20


def items(at_ms: int) -> int:
    """On the scale: 400, and 450 once 50 were delivered at T0 + 10 h 05."""
    return 450 if at_ms >= T0 + 10 * MS_PER_HOUR + 5 * MS_PER_MINUTE else 400


def rows() -> list[tuple[int, float]]:
    return [(at, 2.0 + 0.5 * items(at)) for at in range(T0, NOW_MS, 10 * MS_PER_MINUTE)]


def records(asset: str, counted: int) -> list[WorkRecord]:
    return [
        WorkRecord(SITE_ID, asset, RecordKind.BOOK_STOCK, T0 + MS_PER_HOUR, quantity=400),
        WorkRecord(SITE_ID, asset, RecordKind.DELIVERY, T0 + 10 * MS_PER_HOUR, quantity=50),
        WorkRecord(SITE_ID, asset, RecordKind.STOCKTAKE, T0 + 30 * MS_PER_HOUR, quantity=counted),
    ]


@dataclass
class QuantityEnv:
    """An app over one factory of alpha; beta has none."""

    client: TestClient
    store: InfluxStore
    tokens: dict[tuple[str, Role], str]

    def get(self, path: str, tenant: str = "alpha", role: Role = Role.VIEWER, **params: Any) -> Any:
        headers = {"X-API-Key": self.tokens[tenant, role]}
        return self.client.get(f"/api/v1/tenants/{tenant}{path}", params=params, headers=headers)


@pytest.fixture(scope="module")
def env(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[QuantityEnv]:
    """Two bins of two days of load-cell readings and their records, in a fresh database."""
    database = f"quantity_{uuid.uuid4().hex[:10]}"
    store = make_influx(services.influx, database)
    store.ensure_database()
    write_assets(store, "alpha", [BOLTS, NUTS])
    points = [
        Point(
            "bin_weight",
            {DEVICE: "gw-1", SENSOR: b.weight_sensor, SITE: SITE_ID, TENANT: "alpha"},
            {VALUE: kg},
            at,
        )
        for b in (BOLTS, NUTS)
        for at, kg in rows()
    ]
    assert store.write_points(points) == []
    # Bolts: counted 440 where the scale says 450 (beyond 5); nuts: 440 within 20.
    write_records(store, "alpha", [*records("bolts", 440), *records("nuts", 440)])
    platform = Settings(
        influx_url=services.influx.url, influx_db=database, data_dir=tmp_path_factory.mktemp("q")
    )
    limits = {"SHINSHU_API_RATE_PER_S": "100000", "SHINSHU_API_RATE_BURST": "100000"}
    app = create_app(load_api_settings(platform, env=limits))
    keys = app.state.context.keys
    tokens = {
        (tenant, role): keys.create(tenant, role, sites=["x"] if role is Role.RESEARCHER else [])[1]
        for tenant in ("alpha", "beta")
        for role in Role
    }
    with TestClient(app) as client:
        yield QuantityEnv(client, store, tokens)


def quantity_alerts(env: QuantityEnv) -> list[dict[str, Any]]:
    answer = env.get("/alerts", state="all", limit=1000)
    assert answer.status_code == 200
    return [a for a in answer.json() if a["kind"] == "quantity_discrepancy"]


def test_stocktake_beyond_tolerance_is_one_alert_in_the_alert_list(env: QuantityEnv) -> None:
    """Bolts raise exactly one alert however often they are read; nuts, within tolerance, none."""
    answer = env.get("/stock/quantity", site=SITE_ID)
    assert answer.status_code == 200, answer.text
    bolts, nuts = answer.json()
    assert (bolts["bin"], nuts["bin"]) == ("bolts", "nuts")
    take = bolts["last_stocktake"]
    assert take["counted"] == 440
    assert take["measured"] == pytest.approx(450.0)
    assert take["discrepancy"] == pytest.approx(-10.0)
    assert take["over_tolerance"] and bolts["over_tolerance"]
    assert take["record"]["kind"] == "stocktake"
    assert bolts["tolerance"] == 5 and not bolts["tolerance_default"]
    assert nuts["tolerance"] == 20 and nuts["tolerance_default"]
    assert not nuts["over_tolerance"] and nuts["alerts"] == []
    # Now: the book is the stocktake's count, the scale still says 450.
    assert bolts["now"]["book"] == 440
    assert bolts["now"]["discrepancy"] == pytest.approx(-10.0)
    assert bolts["opening"]["kind"] == "stocktake"
    [alert] = bolts["alerts"]
    assert "棚卸数 440 個" in alert["reason_ja"] and "stocktake counted 440" in alert["reason_en"]
    assert alert["raised_at"].startswith(iso_utc(T0 + 30 * MS_PER_HOUR)[:16])
    for _ in range(2):
        env.get("/stock/quantity")
        env.get(
            f"/stock/bins/{SITE_ID}/bolts/quantity",
            start=iso_utc(T0),
            end=iso_utc(NOW_MS),
        )
    [listed] = quantity_alerts(env)
    assert listed["id"] == alert["id"]
    assert (listed["device"], listed["sensor"]) == ("gw-1", "bolts_weight")
    assert listed["reason"] == alert["reason"]


def test_points_over_time_equal_the_raw_points_and_records(env: QuantityEnv) -> None:
    """Every hour and record: book and measured as computed from what was written."""
    answer = env.get(
        f"/stock/bins/{SITE_ID}/bolts/quantity", start=iso_utc(T0), end=iso_utc(T0 + MS_PER_DAY)
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["step_s"] == 3600
    raw = rows()
    written = records("bolts", 440)
    points = body["points"]
    assert len(points) == 25  # every hour of the day, the records fall on hours too
    for p in points:
        at = next(a for a, _ in reversed(raw) if iso_utc(a)[:19] <= p["time"][:19])
        kg = dict(raw)[at]
        assert p["weight_kg"] == pytest.approx(kg)
        assert p["measured"] == pytest.approx((kg - 2.0) / 0.5)
        booked = [r for r in written if iso_utc(r.at_ms)[:19] <= p["time"][:19]]
        if not booked:
            assert p["book"] is None and p["discrepancy"] is None
            continue
        book = 400 + (50 if len(booked) >= 2 else 0)
        assert p["book"] == book
        assert p["discrepancy"] == pytest.approx(book - p["measured"])
    kinds = [p["record"]["kind"] for p in points if p["record"]]
    assert kinds == ["book_stock", "delivery"]


def test_bad_ranges_unknown_bins_and_other_tenants(env: QuantityEnv) -> None:
    """400 for a range too long, 404 for a bin not registered, nothing of alpha's for beta."""
    too_long = env.get(
        f"/stock/bins/{SITE_ID}/bolts/quantity",
        start=iso_utc(NOW_MS - 100 * MS_PER_DAY),
        end=iso_utc(NOW_MS),
    )
    assert too_long.status_code == 400
    assert env.get(f"/stock/bins/{SITE_ID}/washers/quantity").status_code == 404
    assert env.get("/stock/quantity", tenant="beta").json() == []
    assert env.get(f"/stock/bins/{SITE_ID}/bolts/quantity", tenant="beta").status_code == 404
    refused = env.client.get(
        "/api/v1/tenants/alpha/stock/quantity",
        headers={"X-API-Key": env.tokens["beta", Role.ADMIN]},
    )
    assert refused.status_code == 403
    researcher = env.get("/stock/quantity", role=Role.RESEARCHER)
    assert researcher.status_code == 403


def test_a_stocktake_entered_through_the_api_raises_its_alert_at_once(env: QuantityEnv) -> None:
    """An operator's stocktake of nuts, 60 short of the scale: the alert is listed right away."""
    at = T0 + 40 * MS_PER_HOUR
    assert env.get("/stock/quantity").status_code == 200  # raises what is due already
    before = {a["id"] for a in quantity_alerts(env)}
    body = {
        "site": SITE_ID,
        "asset": "nuts",
        "kind": "stocktake",
        "at": iso_utc(at),
        "quantity": 390,
    }
    headers = {"X-API-Key": env.tokens["alpha", Role.OPERATOR]}
    posted = env.client.post("/api/v1/tenants/alpha/records", json=body, headers=headers)
    assert posted.status_code == 201, posted.text
    [new] = [a for a in quantity_alerts(env) if a["id"] not in before]
    assert new["sensor"] == "nuts_weight"
    assert new["raised_at"].startswith(iso_utc(at)[:16])
    assert "390" in new["reason"] and "棚卸数 390 個" in new["reason_ja"]
    # Voiding it: the book goes back to the earlier stocktake, no further alert is added, and
    # the one it raised is withdrawn (resolved by the operator who voided it, saying why).
    record = posted.json()["record"]
    voided = env.client.delete(
        f"/api/v1/tenants/alpha/sites/{SITE_ID}/records/{record}", headers=headers
    )
    assert voided.status_code == 200, voided.text
    [nuts] = [b for b in env.get("/stock/quantity").json() if b["bin"] == "nuts"]
    assert nuts["last_stocktake"]["counted"] == 440
    assert {a["id"] for a in quantity_alerts(env)} == before | {new["id"]}
    [gone] = [a for a in quantity_alerts(env) if a["id"] == new["id"]]
    assert gone["state"] == "resolved" and record in gone["resolution_note"], gone
