"""Bins: levels, stock-out forecasts and reorder flags equal the model on the stored data."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from support import Services, make_influx

from core.settings import Settings, load_api_settings
from dashboard.app import create_app
from dashboard.keys import Role
from models.stock.stockout import forecast_stockout
from simulators.backfill import backfill
from simulators.scenario import Scenario, Truth
from storage.assets import BinAsset, read_assets, write_assets
from storage.influx.client import InfluxStore

pytestmark = pytest.mark.integration

JST = dt.timezone(dt.timedelta(hours=9))
START_MS = int(dt.datetime(2025, 6, 2, tzinfo=JST).timestamp() * 1000)
DAY_MS = 86_400_000
# Alpha runs one factory, beta two, with other seeds: same site ids, different data.
SCENARIOS = {
    "alpha": Scenario(0, 0, 1, START_MS, 30 * DAY_MS, 600_000, seed=31),
    "beta": Scenario(0, 0, 2, START_MS, 30 * DAY_MS, 600_000, seed=32),
}


@dataclass
class StockEnv:
    """An app over two tenants' factories, with a key per tenant and role."""

    client: TestClient
    store: InfluxStore
    tokens: dict[tuple[str, Role], str]

    def get(self, tenant: str, role: Role = Role.VIEWER, **params: str) -> Any:
        """GET the tenant's bins with the key of `tenant` and `role`; the response."""
        headers = {"X-API-Key": self.tokens[tenant, role]}
        return self.client.get(f"/api/v1/tenants/{tenant}/bins", params=params, headers=headers)


@pytest.fixture(scope="module")
def stock_env(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StockEnv]:
    """Thirty days of two tenants' factories in a fresh database; answers are not cached."""
    database = f"stock_{uuid.uuid4().hex[:10]}"
    store = make_influx(services.influx, database)
    store.ensure_database()
    for tenant, scenario in SCENARIOS.items():
        assert backfill(scenario, store, tenant, Truth(), progress=lambda _l: None).refused == 0
    platform = Settings(
        influx_url=services.influx.url,
        influx_db=database,
        data_dir=tmp_path_factory.mktemp("stock"),
    )
    env = {
        "SHINSHU_API_RATE_PER_S": "100000",
        "SHINSHU_API_RATE_BURST": "100000",
        "SHINSHU_API_AGGREGATE_TTL_S": "0",
    }
    app = create_app(load_api_settings(platform, env=env))
    keys = app.state.context.keys
    tokens = {
        (tenant, role): keys.create(tenant, role, sites=["x"] if role is Role.RESEARCHER else [])[1]
        for tenant in SCENARIOS
        for role in Role
    }
    with TestClient(app) as client:
        yield StockEnv(client, store, tokens)


def _ms(text: str) -> int:
    return round(dt.datetime.fromisoformat(text).timestamp() * 1000)


def _stored(
    store: InfluxStore, tenant: str, kind: str, b: BinAsset, sensor: str
) -> tuple[int, float, np.ndarray, np.ndarray]:
    """Newest reading and the 28 days of readings up to it, straight from the store."""
    where = f"tenant = '{tenant}' AND site = '{b.site}' AND device = '{b.device}' "
    where += f"AND sensor = '{sensor}'"
    last_t, last_v = store.query(f"SELECT last(value) FROM {kind} WHERE {where}")[0]["series"][0][
        "values"
    ][0]
    rows = store.query(
        f"SELECT value FROM {kind} WHERE {where} "
        f"AND time > {last_t - 28 * DAY_MS}ms AND time <= {last_t}ms"
    )[0]["series"][0]["values"]
    ts = np.array([r[0] for r in rows], dtype=np.int64)
    return int(last_t), float(last_v), ts, np.array([r[1] for r in rows], dtype=np.float64)


def test_levels_and_forecasts_equal_the_model_on_the_stored_readings(stock_env: StockEnv) -> None:
    """Weight, count, forecast times and hours, and reorder equal models.stock.stockout's."""
    answer = stock_env.get("alpha")
    assert answer.status_code == 200, answer.text
    bins = answer.json()
    registry = read_assets(stock_env.store, "alpha")
    assert sorted((b["site"], b["bin"]) for b in bins) == sorted(
        (b.site, b.asset) for b in registry.all_bins()
    )
    assert len(bins) == 4
    forecasts = 0
    for out in bins:
        b = next(a for a in registry.all_bins() if a.asset == out["bin"])
        last_t, weight, ts, values = _stored(
            stock_env.store, "alpha", "bin_weight", b, b.weight_sensor
        )
        count_t, count, _, _ = _stored(stock_env.store, "alpha", "item_count", b, b.count_sensor)
        assert out["weight_kg"] == weight
        assert out["count"] == round(count)
        assert _ms(out["level_at"]) == max(last_t, count_t)
        assert (out["item"], out["unit_kg"], out["capacity"]) == (b.item, b.unit_kg, b.capacity)
        assert (out["lead_time_h"], out["reorder_point"]) == (b.lead_time_h, b.reorder_point)
        expected = forecast_stockout(ts, values, lead_time_h=b.lead_time_h)
        stockout = out["stockout"]
        assert stockout is not None, out["stockout_unavailable"]
        forecasts += 1
        assert stockout["basis"] == "weight"
        assert stockout["hours"] == pytest.approx(expected.hours_median, rel=1e-12)
        assert stockout["hours_low"] == pytest.approx(expected.hours_low, rel=1e-12)
        assert stockout["hours_high"] == pytest.approx(expected.hours_high, rel=1e-12)
        assert stockout["level"] == pytest.approx(expected.level, rel=1e-12)
        assert _ms(stockout["as_of"]) == expected.now_ms == last_t
        assert _ms(stockout["expected_at"]) == expected.stockout_ms
        assert _ms(stockout["low"]) == last_t + round(expected.hours_low * 3_600_000)
        assert _ms(stockout["high"]) == last_t + round(expected.hours_high * 3_600_000)
        assert _ms(stockout["low"]) <= _ms(stockout["expected_at"]) <= _ms(stockout["high"])
        assert out["reorder"] is expected.reorder
        assert out["stockout_unavailable"] is None
    assert forecasts == 4


def test_reorder_flag_follows_the_lead_time(stock_env: StockEnv) -> None:
    """Re-registering a bin with a lead time beyond the forecast's early end raises the flag."""
    before = {b["bin"]: b for b in stock_env.get("alpha").json()}
    registry = read_assets(stock_env.store, "alpha")
    candidates = [b for b in registry.all_bins() if before[b.asset]["stockout"]["hours_low"] > 6]
    assert candidates, before
    target = candidates[0]
    low = before[target.asset]["stockout"]["hours_low"]
    now_ms = int(time.time() * 1000)
    try:
        for lead, flagged, at in ((low + 3.0, True, 1), (low - 3.0, False, 2)):
            changed = dataclasses.replace(target, lead_time_h=lead)
            write_assets(stock_env.store, "alpha", [changed], now_ms=now_ms + at)
            after = {b["bin"]: b for b in stock_env.get("alpha").json()}
            assert after[target.asset]["lead_time_h"] == lead
            assert after[target.asset]["reorder"] is flagged
            # The forecast itself does not depend on the lead time.
            assert (
                after[target.asset]["stockout"]["hours"]
                == before[target.asset]["stockout"]["hours"]
            )
            for name, out in after.items():
                if name != target.asset:
                    assert out["reorder"] is before[name]["reorder"]
    finally:
        write_assets(stock_env.store, "alpha", [target], now_ms=now_ms + 3)
    for out in stock_env.get("alpha").json():
        assert out["reorder"] is (out["stockout"]["hours_low"] < out["lead_time_h"])


def test_each_tenant_sees_only_its_own_bins(stock_env: StockEnv) -> None:
    """Same site ids, different data: each tenant's answer is computed from its own points."""
    alpha = stock_env.get("alpha").json()
    beta = stock_env.get("beta").json()
    assert {b["site"] for b in alpha} == {"suwa-precision"}
    assert {b["site"] for b in beta} == {"suwa-precision", "ina-electronics"}
    alpha_weights = {b["bin"]: b["weight_kg"] for b in alpha}
    beta_weights = {b["bin"]: b["weight_kg"] for b in beta if b["site"] == "suwa-precision"}
    assert alpha_weights.keys() == beta_weights.keys()
    assert alpha_weights != beta_weights
    only = stock_env.get("beta", site="ina-electronics").json()
    assert {b["site"] for b in only} == {"ina-electronics"} and len(only) == 4
    assert stock_env.get("alpha", site="ina-electronics").json() == []
    for role in Role:
        refused = stock_env.client.get(
            "/api/v1/tenants/alpha/bins",
            headers={"X-API-Key": stock_env.tokens["beta", role]},
        )
        assert refused.status_code == 403
        assert "suwa" not in refused.text and "weight" not in refused.text


def test_roles_viewer_operator_admin_read_researcher_does_not(stock_env: StockEnv) -> None:
    """Every reading role gets the same answer; a researcher gets 403."""
    answers = [stock_env.get("alpha", role).json() for role in (Role.OPERATOR, Role.ADMIN)]
    viewer = stock_env.get("alpha", Role.VIEWER).json()
    assert all(a == viewer for a in answers)
    assert stock_env.get("alpha", Role.RESEARCHER).status_code == 403
    assert stock_env.client.get("/api/v1/tenants/alpha/bins").status_code == 401


def test_a_tenant_without_registered_bins_gets_an_empty_list(stock_env: StockEnv) -> None:
    """No registry entries, no bins: an empty list, not an error."""
    keys = stock_env.client.app.state.context.keys  # type: ignore[attr-defined]
    _, token = keys.create("gamma", Role.VIEWER)
    answer = stock_env.client.get("/api/v1/tenants/gamma/bins", headers={"X-API-Key": token})
    assert answer.status_code == 200 and answer.json() == []
