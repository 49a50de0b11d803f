"""Stands: growth curves and Faustmann rotations equal models.forest on the stored data."""

from __future__ import annotations

import datetime as dt
import math
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
from models.forest import Economics, fit_growth, lev, plan_rotation
from models.forest.service import DEFAULT_ECONOMICS, YIELD_TABLES
from simulators.backfill import backfill
from simulators.scenario import Scenario, Truth
from simulators.truth import StandYear
from storage.assets import StandAsset, read_assets
from storage.influx.client import InfluxStore

pytestmark = pytest.mark.integration

JST = dt.timezone(dt.timedelta(hours=9))
START_MS = int(dt.datetime(2025, 1, 1, tzinfo=JST).timestamp() * 1000)
DAY_MS = 86_400_000
YEAR_MS = 365.2425 * DAY_MS
PERIOD_MS = 30 * DAY_MS
# Alpha: a larch stand at Minamimaki and one at Karuizawa for a year; beta: Minamimaki only.
SCENARIOS = {
    "alpha": Scenario(0, 2, 0, START_MS, 365 * DAY_MS, 3_600_000, seed=41),
    "beta": Scenario(0, 1, 0, START_MS, 365 * DAY_MS, 3_600_000, seed=42),
}


@dataclass
class ForestEnv:
    """An app over two tenants' stands, a key per tenant and role, and the simulation truth."""

    client: TestClient
    store: InfluxStore
    tokens: dict[tuple[str, Role], str]
    truth: dict[str, list[StandYear]]

    def get(self, tenant: str, path: str, role: Role = Role.VIEWER, **params: Any) -> Any:
        """GET /api/v1/tenants/{tenant}{path} with the key of `tenant` and `role`."""
        headers = {"X-API-Key": self.tokens[tenant, role]}
        return self.client.get(f"/api/v1/tenants/{tenant}{path}", params=params, headers=headers)


@pytest.fixture(scope="module")
def forest_env(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForestEnv]:
    """A year of two tenants' stands in a fresh database; answers are not cached."""
    database = f"forest_{uuid.uuid4().hex[:10]}"
    store = make_influx(services.influx, database)
    store.ensure_database()
    truth: dict[str, list[StandYear]] = {}
    for tenant, scenario in SCENARIOS.items():
        collected = Truth()
        assert backfill(scenario, store, tenant, collected, progress=lambda _l: None).refused == 0
        truth[tenant] = collected.stands
    platform = Settings(
        influx_url=services.influx.url,
        influx_db=database,
        data_dir=tmp_path_factory.mktemp("forest"),
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
        yield ForestEnv(client, store, tokens, truth)


def _inventory_ms(stand: StandAsset) -> int:
    day = dt.date.fromisoformat(stand.age_on)
    return int(dt.datetime.combine(day, dt.time(), JST).timestamp() * 1000)


def _expected(
    store: InfluxStore, tenant: str, stand: StandAsset, econ: Economics
) -> dict[str, Any]:
    """The rotation computed here from raw stored readings with models.forest."""
    start = _inventory_ms(stand)
    where = f"tenant = '{tenant}' AND site = '{stand.site}' AND device = '{stand.device}'"
    series = store.query(
        f"SELECT value FROM stem_radius WHERE {where} AND time >= {start}ms GROUP BY sensor"
    )[0]["series"]
    as_of = max(int(s["values"][-1][0]) for s in series)
    # 30-day means from the inventory date, each sensor zeroed at its first period.
    deltas: dict[int, list[float]] = {}
    for s in series:
        ts = np.array([r[0] for r in s["values"]], dtype=np.int64)
        values = np.array([r[1] for r in s["values"]])
        period = (ts - start) // PERIOD_MS
        means = {int(p): float(values[period == p].mean()) for p in np.unique(period)}
        first = means[min(means)]
        for p, m in means.items():
            deltas.setdefault(p, []).append(m - first)
    periods = sorted(deltas)
    growth = np.array([np.mean(deltas[p]) for p in periods])
    assert stand.volume_m3_ha is not None and stand.dbh_cm is not None
    volumes = stand.volume_m3_ha * (1.0 + growth / (stand.dbh_cm * 5_000.0)) ** 2.5
    ages = stand.age_years + ((np.array(periods) + 0.5) * PERIOD_MS) / YEAR_MS
    table = YIELD_TABLES[stand.species]
    site_class = stand.volume_m3_ha / float(table.volume(stand.age_years))
    n = max(round(max(stand.age_years, 10.0)), 8)
    table_ages = np.linspace(max(stand.age_years, 10.0) / n, max(stand.age_years, 10.0), n)
    curve = fit_growth(
        np.concatenate([table_ages, ages]),
        np.concatenate([site_class * table.volume(table_ages), volumes]),
    )
    age_now = stand.age_years + (as_of - start) / YEAR_MS
    plan = plan_rotation(curve, econ, current_age=math.floor(age_now))

    def year(age: float) -> int:
        return (
            dt.datetime.fromtimestamp((start + (age - stand.age_years) * YEAR_MS) / 1000, JST)
        ).year

    return {
        "curve": curve,
        "as_of": as_of,
        "age_now": age_now,
        "plan": plan,
        "periods": len(periods),
        "harvest_year": year(max(plan.rotation_age, age_now)),
        "thinning_years": sorted({year(a) for a in plan.thinning_ages if a >= age_now}),
    }


def _ms(text: str) -> int:
    return round(dt.datetime.fromisoformat(text).timestamp() * 1000)


def test_rotation_equals_the_forest_model_on_the_stored_readings(forest_env: ForestEnv) -> None:
    """Growth curve, age, volume, rotation, land value and years equal models.forest's."""
    registry = read_assets(forest_env.store, "alpha")
    stands = [s for stands in registry.stands.values() for s in stands]
    assert len(stands) == 2
    for stand in stands:
        answer = forest_env.get("alpha", f"/stands/{stand.site}/rotation")
        assert answer.status_code == 200, answer.text
        out = answer.json()
        econ = DEFAULT_ECONOMICS[stand.species]
        expected = _expected(forest_env.store, "alpha", stand, econ)
        curve, plan = expected["curve"], expected["plan"]
        assert (out["site"], out["stand"], out["species"]) == (
            stand.site,
            stand.asset,
            stand.species,
        )
        assert out["dendrometer_periods"] == expected["periods"] == 13
        assert _ms(out["as_of"]) == expected["as_of"]
        assert out["age_years"] == pytest.approx(expected["age_now"], rel=1e-12)
        for name in ("a", "k", "p"):
            assert out["curve"][name] == pytest.approx(getattr(curve, name), rel=1e-6)
        assert out["volume_m3_ha"] == pytest.approx(
            float(curve.volume(expected["age_now"])), rel=1e-6
        )
        assert out["rotation_age_years"] == pytest.approx(plan.rotation_age, abs=1e-3)
        assert out["lev"] == pytest.approx(plan.lev, rel=1e-6)
        assert out["volume_at_rotation_m3_ha"] == pytest.approx(plan.volume_at_rotation, rel=1e-6)
        assert out["harvest_year"] == expected["harvest_year"]
        assert out["thinning_years"] == expected["thinning_years"]
        assert out["parameters"] == {
            "price": econ.price,
            "harvest_cost": econ.harvest_cost,
            "planting_cost": econ.planting_cost,
            "discount_rate": econ.rate,
        }
        ages = np.array([p["age"] for p in out["growth_curve"]])
        assert ages[0] == 1 and ages[-1] >= plan.rotation_age
        np.testing.assert_allclose(
            [p["volume"] for p in out["growth_curve"]], curve.volume(ages), rtol=1e-6
        )
        assert [p["age"] for p in out["value_curve"]] == ages.tolist()
        np.testing.assert_allclose(
            [p["lev"] for p in out["value_curve"]], lev(curve, econ, ages), rtol=1e-6
        )
        # The value curve peaks at the recommended rotation.
        best = max(out["value_curve"], key=lambda p: p["lev"])
        assert abs(best["age"] - out["rotation_age_years"]) <= 1.0


def test_parameters_move_the_rotation_the_right_way(forest_env: ForestEnv) -> None:
    """A higher discount rate shortens the rotation; given parameters are echoed back."""
    path = "/stands/minamimaki-01/rotation"
    rotations = [
        forest_env.get("alpha", path, discount_rate=rate).json()["rotation_age_years"]
        for rate in (0.01, 0.02, 0.04)
    ]
    assert rotations[0] > rotations[1] > rotations[2]
    custom = forest_env.get(
        "alpha", path, price=20_000, harvest_cost=900_000, planting_cost=0, discount_rate=0.03
    ).json()
    assert custom["parameters"] == {
        "price": 20_000.0,
        "harvest_cost": 900_000.0,
        "planting_cost": 0.0,
        "discount_rate": 0.03,
    }
    for extreme in (
        {"price": 1_000_000, "harvest_cost": 0, "planting_cost": 0, "discount_rate": 0.2},
        {"price": 0.01, "harvest_cost": 1e9, "planting_cost": 1e9, "discount_rate": 0.001},
    ):
        answer = forest_env.get("alpha", path, **extreme)
        assert answer.status_code == 200, answer.text
        assert all(math.isfinite(p["lev"]) for p in answer.json()["value_curve"])
    for bad in ({"discount_rate": 0}, {"price": -1}, {"harvest_cost": "cheap"}):
        assert forest_env.get("alpha", path, **bad).status_code == 422


def test_stand_list_matches_the_rotations_and_the_simulated_volumes(forest_env: ForestEnv) -> None:
    """Each listed stand has its rotation at defaults; fitted volume is near the true volume."""
    listed = forest_env.get("alpha", "/stands").json()
    assert sorted(s["site"] for s in listed) == ["karuizawa-01", "minamimaki-01"]
    truth = {t.site: t for t in forest_env.truth["alpha"]}
    for stand in listed:
        rotation = forest_env.get("alpha", f"/stands/{stand['site']}/rotation").json()
        assert stand["rotation_age_years"] == rotation["rotation_age_years"]
        assert stand["harvest_year"] == rotation["harvest_year"]
        assert stand["thinning_years"] == rotation["thinning_years"]
        assert stand["volume_m3_ha"] == rotation["volume_m3_ha"]
        assert stand["unavailable"] is None
        # The simulator's stand volume at the end of the year (its truth) is what was measured.
        assert stand["volume_m3_ha"] == pytest.approx(truth[stand["site"]].volume_m3_ha, rel=0.02)
        assert 20 <= rotation["rotation_age_years"] <= 120
    only = forest_env.get("alpha", "/stands", site="karuizawa-01").json()
    assert [s["site"] for s in only] == ["karuizawa-01"]


def test_tenants_roles_and_unknown_stands(forest_env: ForestEnv) -> None:
    """Other tenants' keys get 403, researchers 403, unknown sites or stands 404."""
    alpha = forest_env.get("alpha", "/stands/minamimaki-01/rotation").json()
    beta = forest_env.get("beta", "/stands/minamimaki-01/rotation").json()
    assert alpha["curve"] != beta["curve"]
    assert [s["site"] for s in forest_env.get("beta", "/stands").json()] == ["minamimaki-01"]
    assert forest_env.get("beta", "/stands/karuizawa-01/rotation").status_code == 404
    for path in ("/stands", "/stands/minamimaki-01/rotation"):
        for role in Role:
            refused = forest_env.client.get(
                f"/api/v1/tenants/alpha{path}",
                headers={"X-API-Key": forest_env.tokens["beta", role]},
            )
            assert refused.status_code == 403
            assert "larch" not in refused.text
        assert forest_env.get("alpha", path, Role.RESEARCHER).status_code == 403
        for role in (Role.OPERATOR, Role.ADMIN):
            assert forest_env.get("alpha", path, role).status_code == 200
    for path, params in (
        ("/stands/nowhere/rotation", {}),
        ("/stands/bad id!/rotation", {}),
        ("/stands/minamimaki-01/rotation", {"stand": "sugi-z"}),
    ):
        answer = forest_env.get("alpha", path, **params)
        assert answer.status_code == 404 and set(answer.json()) == {"detail"}
