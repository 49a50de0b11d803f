"""What the site pages show equals what the API answers for the same entity: the harvest
forecast of a field, the rotation of a stand, the stock-out countdown of every bin."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from browser.ui_support import END_MS, Browse, UiEnv, route_of

from dashboard.keys import Role
from models.harvest.csvio import EPOCH
from models.harvest.model import HarvestForecaster
from models.harvest.persist import HARVEST_CODEC
from models.harvest.types import SeasonRecord
from models.registry import Metric, ModelRegistry
from models.store_weather import read_daily_weather
from simulators.backfill import backfill
from simulators.scenario import Scenario, Truth

pytestmark = pytest.mark.integration

TOKYO = ZoneInfo("Asia/Tokyo")


TRAINING_START = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
TRAINING_WINDOW = (dt.date(2023, 1, 1), dt.date(2024, 12, 31))


@pytest.fixture(scope="module")
def harvest_model(ui_env: UiEnv) -> int:
    """A harvest model trained on two other years of simulated farms, registered for alpha.

    Trained on a tenant of its own in the same store, as `shinshu train` would on history;
    returns the registered version.
    """
    truth = Truth()
    start_ms = int(TRAINING_START.timestamp() * 1000)
    history = Scenario(4, 0, 0, start_ms, 2 * 365 * 86_400_000, 3_600_000, seed=5)
    backfill(history, ui_env.store, "history", truth, progress=lambda _line: None)
    seasons = [
        SeasonRecord(
            s.site, s.crop.value, (s.planted - EPOCH).days, (s.maturity - EPOCH).days, s.yield_t_ha
        )
        for s in truth.seasons
    ]
    fields = {s.field_id: None for s in seasons}
    weather = read_daily_weather(ui_env.store, "history", fields, *TRAINING_WINDOW)
    model = HarvestForecaster().fit(weather, seasons)
    registry = ModelRegistry.for_tenant(ui_env.data_dir, "alpha")
    meta = registry.register(
        "harvest", model, HARVEST_CODEC, window=TRAINING_WINDOW, metrics={"m": Metric(1.0, 2.0)}
    )
    return int(meta.version)


def _get(browse: Browse, path: str, **params: str) -> Any:
    response = httpx.get(
        f"{browse.env.url}/api/v1/tenants/alpha{path}",
        params=params,
        headers={"X-API-Key": browse.env.token(Role.VIEWER)},
        timeout=60,
    )
    response.raise_for_status()
    return response.json()


def _number(value: float, digits: int = 1) -> str:
    """Like the UI's Intl.NumberFormat (ja-JP, max `digits` decimals, grouped)."""
    scaled = math.floor(abs(value) * 10**digits + 0.5) / 10**digits
    text = f"{math.copysign(scaled, value):,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _tokyo(iso: str) -> str:
    return (
        dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
        .astimezone(TOKYO)
        .strftime("%Y/%m/%d %H:%M")
    )


def _hours(value: float) -> str:
    """Like the UI's `hours()`: whole days, then hours with one decimal."""
    days = math.floor(max(0.0, value) / 24)
    rest = f"{_number(max(0.0, value) - days * 24)} 時間"
    return f"{days} 日 {rest}" if days else rest


def test_stockout_countdown_equals_the_api(browse: Browse) -> None:
    """Each bin's countdown, stock-out time, reorder flag and levels are the API's."""
    site = browse.env.sites["factory"]
    bins = _get(browse, "/bins", site=site)
    assert bins, "the factory has bins"
    probe = browse.open(route_of("factory", browse.env.sites), role=Role.VIEWER, lang="ja")
    page = probe.page
    with_forecast = 0
    for b in bins:
        card = page.locator(f'[data-bin="{b["bin"]}"]')
        cell = card.locator("[data-field=stockout]")
        stockout = b["stockout"]
        assert (card.locator("[data-reorder]").count() == 1) is b["reorder"]
        assert card.locator("[data-field=count]").get_attribute("data-raw") == str(b["count"])
        if stockout is None:
            assert cell.get_attribute("data-hours") == ""
            continue
        with_forecast += 1
        assert float(cell.get_attribute("data-hours") or "nan") == stockout["hours"]
        assert cell.get_attribute("data-expected") == stockout["expected_at"]
        text = cell.inner_text()
        if stockout["hours"] < stockout["horizon_h"]:
            assert f"あと {_hours(stockout['hours'])}" in text
            assert _tokyo(stockout["expected_at"]) in text
    assert with_forecast >= 1
    probe.clean()


def test_rotation_equals_the_api(browse: Browse) -> None:
    """The stand's rotation age, harvest year, thinning years and age are the API's."""
    site = browse.env.sites["forest"]
    stands = _get(browse, "/stands", site=site)
    stand = next(s for s in stands if s["rotation_age_years"] is not None)
    rotation = _get(browse, f"/stands/{site}/rotation", stand=stand["stand"])
    probe = browse.open(route_of("forest", browse.env.sites), role=Role.VIEWER, lang="ja")
    page = probe.page
    box = page.locator("#rotation")

    def raw(name: str) -> str | None:
        return box.locator(f"[data-field={name}]").get_attribute("data-raw")

    assert float(raw("rotation-age") or "nan") == rotation["rotation_age_years"]
    assert raw("harvest-year") == str(rotation["harvest_year"])
    assert raw("thinning") == ",".join(str(y) for y in rotation["thinning_years"])
    assert float(raw("age") or "nan") == rotation["age_years"]
    shown = box.locator("[data-field=rotation-age]").inner_text()
    assert shown == f"{_number(rotation['rotation_age_years'])} 年"
    assert box.locator("[data-field=harvest-year]").inner_text() == str(rotation["harvest_year"])
    probe.clean()


def test_harvest_forecast_equals_the_api(browse: Browse, harvest_model: int) -> None:
    """Maturity date, interval, harvest window and yield are the API's, as of the last day with
    data (Tokyo)."""
    site = browse.env.sites["farm"]
    as_of = (dt.datetime.fromtimestamp((END_MS - 1) / 1000, TOKYO)).date().isoformat()
    forecast = _get(browse, f"/fields/{site}/forecast", as_of=as_of)
    assert forecast["status"] == "ok", forecast
    assert forecast["model_version"] == harvest_model
    probe = browse.open(route_of("farm", browse.env.sites), role=Role.VIEWER, lang="ja")
    page = probe.page
    box = page.locator("#forecast")
    assert box.get_attribute("data-model") == str(harvest_model)
    maturity, window, expected_yield = (
        forecast["maturity"],
        forecast["harvest_window"],
        forecast["yield"],
    )
    assert box.locator("[data-field=maturity]").get_attribute("data-raw") == maturity["date"]
    assert box.locator("[data-field=maturity]").inner_text() == maturity["date"].replace("-", "/")
    interval = box.locator("[data-field=maturity-interval]")
    assert interval.get_attribute("data-low") == maturity["low"]
    assert interval.get_attribute("data-high") == maturity["high"]
    win = box.locator("[data-field=window]")
    assert win.get_attribute("data-start") == window["start"]
    assert win.get_attribute("data-end") == window["end"]
    assert win.inner_text() == (
        f"{window['start'].replace('-', '/')} – {window['end'].replace('-', '/')}"
    )
    shown_yield = box.locator("[data-field=yield]")
    assert float(shown_yield.get_attribute("data-value") or "nan") == expected_yield["value"]
    assert shown_yield.inner_text().startswith(
        f"{_number(expected_yield['value'])} {expected_yield['unit']}"
    )
    # The GDD chart plots the API's accumulation, one point per day.
    gdd = page.evaluate("document.querySelector('#chart-gdd').uplot.data[1]")
    assert gdd == [d["gdd"] for d in forecast["gdd"]]
    probe.clean()
