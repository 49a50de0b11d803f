"""Harvest forecasts and model versions over the API, against real InfluxDB and a real registry."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
from fastapi.testclient import TestClient
from support import Services, make_influx

from core.settings import Settings, load_api_settings
from dashboard.app import create_app
from dashboard.keys import Role
from models.harvest.csvio import EPOCH
from models.harvest.model import HarvestForecaster
from models.harvest.persist import HARVEST_CODEC
from models.harvest.predict import predict_season
from models.harvest.types import SeasonRecord
from models.registry import Metric, ModelRegistry
from models.store_weather import read_daily_weather
from simulators.backfill import backfill
from simulators.scenario import Scenario, Truth
from storage.assets import FieldAsset, read_assets
from storage.influx.client import InfluxStore

pytestmark = pytest.mark.integration

START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
SITE = "kawakami-01"
WINDOW = (dt.date(2025, 1, 1), dt.date(2026, 12, 31))


@dataclass
class ForecastEnv:
    """An app over alpha's two farm years (with a registered model) and beta's one month."""

    client: TestClient
    store: InfluxStore
    registry: ModelRegistry
    tokens: dict[tuple[str, Role], str]
    field: FieldAsset
    truth: list[SeasonRecord]

    def get(self, path: str, tenant: str = "alpha", role: Role = Role.VIEWER, **params: str):  # type: ignore[no-untyped-def]
        """GET `path` under /api/v1/tenants/alpha with a key of `tenant` and `role`."""
        headers = {"X-API-Key": self.tokens[tenant, role]}
        return self.client.get(f"/api/v1/tenants/alpha{path}", params=params, headers=headers)


def _ms(day: dt.datetime) -> int:
    return int(day.timestamp() * 1000)


@pytest.fixture(scope="module")
def env(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForecastEnv]:
    """Backfilled farms, a harvest model fitted on alpha's stored weather, keys per role."""
    database = f"fc_{uuid.uuid4().hex[:10]}"
    store = make_influx(services.influx, database)
    store.ensure_database()
    truth = Truth()
    alpha = Scenario(4, 0, 0, _ms(START), 2 * 365 * 86_400_000, 3_600_000, seed=5)
    assert backfill(alpha, store, "alpha", truth, progress=lambda _l: None).refused == 0
    beta_start = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    beta = Scenario(1, 0, 0, _ms(beta_start), 30 * 86_400_000, 3_600_000, seed=6)
    assert backfill(beta, store, "beta", Truth(), progress=lambda _l: None).refused == 0
    seasons = [
        SeasonRecord(
            s.site, s.crop.value, (s.planted - EPOCH).days, (s.maturity - EPOCH).days, s.yield_t_ha
        )
        for s in truth.seasons
    ]
    fields = {s.field_id: None for s in seasons}
    weather = read_daily_weather(store, "alpha", fields, *WINDOW)
    model = HarvestForecaster().fit(weather, seasons)
    data_dir = tmp_path_factory.mktemp("forecast-data")
    registry = ModelRegistry.for_tenant(data_dir, "alpha")
    registry.register(
        "harvest", model, HARVEST_CODEC, window=WINDOW, metrics={"m": Metric(1.0, 2.0)}
    )
    settings = load_api_settings(
        Settings(influx_url=services.influx.url, influx_db=database, data_dir=data_dir),
        env={"SHINSHU_API_RATE_PER_S": "100000", "SHINSHU_API_RATE_BURST": "100000"},
    )
    app = create_app(settings)
    tokens = {}
    for tenant in ("alpha", "beta"):
        for role in Role:
            sites = [SITE] if role is Role.RESEARCHER else []
            key = app.state.context.keys.create(tenant, role, name=role.value, sites=sites)
            tokens[tenant, role] = key[1]
    [field] = read_assets(store, "alpha", [SITE]).fields[SITE]
    with TestClient(app) as client:
        yield ForecastEnv(client, store, registry, tokens, field, seasons)


def _expected(env: ForecastEnv, as_of: dt.date) -> tuple[dt.date, object, np.ndarray]:
    """Planting, the model's own prediction for the field as of `as_of`, and its weather."""
    planting = max(p for p in env.field.planting_dates() if p <= as_of)
    meta = env.registry.newest_good("harvest")
    assert meta is not None
    model = env.registry.load(meta, HARVEST_CODEC)
    first = planting - dt.timedelta(days=10)
    weather = read_daily_weather(env.store, "alpha", {SITE: env.field.device}, first, as_of)
    season = SeasonRecord(SITE, env.field.crop, (planting - EPOCH).days)
    prediction = predict_season(model, weather, season, (as_of - EPOCH).days)
    return planting, prediction, weather[SITE]


def _day(value: float) -> str:
    return (EPOCH + dt.timedelta(days=round(value))).isoformat()


def test_forecast_equals_the_model_prediction_for_the_same_inputs(env: ForecastEnv) -> None:
    """Maturity, yield, window and GDD are what the registered model predicts from the store."""
    as_of = dt.date(2026, 7, 25)
    planting, p, weather = _expected(env, as_of)
    response = env.get(f"/fields/{SITE}/forecast", as_of=as_of.isoformat())
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["reason"], body["model_version"]) == ("ok", None, 1)
    assert body["planting_date"] == planting.isoformat()
    assert body["field"] == env.field.asset and body["crop"] == env.field.crop
    assert body["maturity"] == {
        "date": _day(p.maturity),
        "low": _day(p.maturity_low),
        "high": _day(p.maturity_high),
    }
    assert body["yield"] == {
        "value": pytest.approx(p.yield_value, abs=1e-9),
        "low": pytest.approx(p.yield_low, abs=1e-9),
        "high": pytest.approx(p.yield_high, abs=1e-9),
        "unit": "t/ha",
    }
    assert body["harvest_window"] == {"start": _day(p.window_start), "end": _day(p.window_end)}
    assert body["days_known"] == p.days_known > 0
    # And the forecast is worth having: within ten days of the simulated truth of that season.
    [truth] = [s for s in env.truth if s.field_id == SITE and s.planting == (planting - EPOCH).days]
    assert truth.maturity is not None
    assert abs(p.maturity - truth.maturity) <= 10
    # GDD: cumulative max((tmin + tmax) / 2 - 10, 0) per day from planting to the as-of day.
    since = (planting - EPOCH).days - weather.first_day
    tm = 0.5 * (weather.tmin[since:] + weather.tmax[since:])
    cumulative = np.cumsum(np.maximum(tm - 10.0, 0.0))
    assert body["gdd"][0]["date"] == planting.isoformat()
    assert body["gdd"][-1]["date"] == as_of.isoformat()
    np.testing.assert_allclose([g["gdd"] for g in body["gdd"]], cumulative, atol=1e-5)


def test_field_list_carries_the_same_forecasts(env: ForecastEnv) -> None:
    """Every registered field is listed; an `ok` item's forecast equals the single endpoint's."""
    as_of = "2026-07-25"
    response = env.get("/fields", as_of=as_of)
    assert response.status_code == 200, response.text
    items = response.json()
    assert sorted(i["site"] for i in items) == [f"kawakami-0{i}" for i in range(1, 5)]
    for item in items:
        single = env.get(f"/fields/{item['site']}/forecast", as_of=as_of).json()
        assert item["status"] == single["status"]
        assert item["forecast"] == (single if single["status"] == "ok" else None)
    assert any(i["status"] == "ok" for i in items)


def test_field_without_current_season_or_model_answers_with_a_reason(env: ForecastEnv) -> None:
    """No planting yet: status no_season; a tenant without a model: status no_model, GDD kept."""
    early = env.get(f"/fields/{SITE}/forecast", as_of="2025-03-01").json()
    assert early["status"] == "no_season" and "no planting" in early["reason"]
    assert early["maturity"] is None and early["yield"] is None and early["model_version"] == 1
    headers = {"X-API-Key": env.tokens["beta", Role.VIEWER]}
    response = env.client.get(
        f"/api/v1/tenants/beta/fields/{SITE}/forecast",
        params={"as_of": "2026-05-25"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    beta = response.json()
    assert beta["status"] == "no_model" and "shinshu train" in beta["reason"]
    assert beta["model_version"] is None and beta["harvest_window"] is None
    assert beta["gdd"], "GDD since planting is known without a model"
    listed = env.client.get("/api/v1/tenants/beta/fields", headers=headers).json()
    assert [(i["site"], i["forecast"]) for i in listed] == [(SITE, None)]


def test_unknown_site_is_404_with_a_reason(env: ForecastEnv) -> None:
    """A site that is not a registered field of the tenant is not found."""
    response = env.get("/fields/nowhere/forecast")
    assert response.status_code == 404
    assert response.json() == {"detail": "no farm field registered at site 'nowhere'"}
    assert env.get("/fields/a%2Fb/forecast").status_code == 404
    assert env.get(f"/fields/{SITE}/forecast", as_of="1900-01-01").status_code == 400


@pytest.mark.parametrize("path", [f"/fields/{SITE}/forecast", "/fields", "/models"])
def test_readers_may_read_and_researchers_and_other_tenants_may_not(
    env: ForecastEnv, path: str
) -> None:
    """Viewer, operator and admin read; researcher gets 403; another tenant's key gets 403."""
    for role in (Role.VIEWER, Role.OPERATOR, Role.ADMIN):
        assert env.get(path, role=role).status_code == 200
    assert env.get(path, role=Role.RESEARCHER).status_code == 403
    for role in Role:
        response = env.get(path, tenant="beta", role=role)
        assert response.status_code == 403 and SITE not in response.text


def test_models_lists_versions_and_a_rejected_version_is_not_served(env: ForecastEnv) -> None:
    """Newer rejected or damaged versions are listed; forecasts keep using good v1."""
    meta = env.registry.newest_good("harvest")
    assert meta is not None
    model = env.registry.load(meta, HARVEST_CODEC)
    failed = {"maturity_mae_days_at_50": Metric(9.0, 4.0, passed=False)}
    env.registry.register("harvest", model, HARVEST_CODEC, window=WINDOW, metrics=failed)
    versions = env.get("/models").json()
    assert [(v["name"], v["version"], v["status"]) for v in versions] == [
        ("harvest", 2, "rejected"),
        ("harvest", 1, "good"),
    ]
    assert versions[0]["metrics"]["maturity_mae_days_at_50"] == {
        "value": 9.0,
        "baseline": 4.0,
        "better": "lower",
        "passed": False,
        "note": "",
    }
    assert versions[1]["training_window"] == {"start": "2025-01-01", "end": "2026-12-31"}
    forecast = env.get(f"/fields/{SITE}/forecast", as_of="2026-07-25").json()
    assert forecast["model_version"] == 1
    # A newer good version whose file was damaged after registration is skipped, not served.
    good = {"maturity_mae_days_at_50": Metric(2.0, 4.0)}
    damaged = env.registry.register("harvest", model, HARVEST_CODEC, window=WINDOW, metrics=good)
    path = env.registry.path(damaged)
    path.write_bytes(path.read_bytes()[:-10])
    forecast = env.get(f"/fields/{SITE}/forecast", as_of="2026-07-25").json()
    assert forecast["model_version"] == 1
    assert env.get("/models").json()[0]["version"] == 3
