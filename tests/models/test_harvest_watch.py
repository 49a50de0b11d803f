"""Harvest-window alerts: one per field and season, raised once the window is days away."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

from core.time import JST
from models.harvest.csvio import EPOCH
from models.harvest.service import FieldForecast, ForecastStatus
from models.harvest.types import HarvestPrediction, PredictionStatus, SeasonRecord
from models.harvest.watch import HarvestWatch
from storage.alert_types import AlertKind, AlertState
from storage.alerts import AlertStore
from storage.assets import FieldAsset, write_assets
from storage.sqlite.store import SqliteStore

FIELD = FieldAsset("kawakami-01", "kawakami-01", "pi-1", "lettuce", 1.2, ("2026-05-01",))
PLANTING = dt.date(2026, 5, 1)


def _day(d: dt.date) -> float:
    return float((d - EPOCH).days)


def _forecast(as_of: dt.date, start: dt.date, *, status: ForecastStatus = ForecastStatus.OK):
    season = SeasonRecord(FIELD.site, "lettuce", int(_day(PLANTING)))
    p = HarvestPrediction(
        season,
        int(_day(as_of)),
        PredictionStatus.OK,
        maturity=_day(start),
        maturity_low=_day(start) - 2,
        maturity_high=_day(start) + 3,
        window_start=_day(start),
        window_end=_day(start + dt.timedelta(days=4)),
    )
    return FieldForecast(FIELD, as_of, status, "", PLANTING, p)


class Forecasts:
    """The forecasts a ForecastService would give, with a window that moves as asked."""

    def __init__(self, start: dt.date) -> None:
        self.start = start
        self.status = ForecastStatus.OK
        self.asked: list[tuple[str, dt.date]] = []

    def __call__(self, tenant: str, as_of: dt.date) -> list[FieldForecast]:
        self.asked.append((tenant, as_of))
        return [_forecast(as_of, self.start, status=self.status)]


def _noon(day: dt.date) -> float:
    return dt.datetime.combine(day, dt.time(12), JST).timestamp()


def test_one_alert_per_season_from_three_days_before_the_window(tmp_path: Path) -> None:
    """Four days before: nothing; three days before: one alert in both languages, for
    yesterday's forecast; the window moving a day later keeps the alert and updates its
    dates; after the window: nothing new."""
    store = SqliteStore(tmp_path / "s.sqlite3")
    write_assets(store, "alpha", [FIELD])
    forecasts = Forecasts(dt.date(2026, 7, 10))
    now = [_noon(dt.date(2026, 7, 6))]
    alerts = AlertStore(store)
    watch = HarvestWatch(store, alerts, forecasts, clock=lambda: now[0])
    assert watch.run_once() == []
    assert forecasts.asked == [("alpha", dt.date(2026, 7, 5))]  # yesterday: complete weather
    now[0] = _noon(dt.date(2026, 7, 7))
    (alert,) = watch.run_once()
    assert (alert.kind, alert.site, alert.sensor, alert.device) == (
        AlertKind.HARVEST_WINDOW,
        FIELD.site,
        FIELD.asset,
        FIELD.device,
    )
    assert alert.ts_ms == int(now[0] * 1000)
    assert "2026-07-10 to 2026-07-14" in alert.reason and "7月10日〜7月14日" in alert.reason_ja
    forecasts.start = dt.date(2026, 7, 11)
    now[0] = _noon(dt.date(2026, 7, 8))
    (moved,) = watch.run_once()
    assert moved.id == alert.id and "7月11日〜7月15日" in moved.reason_ja
    (stored,) = alerts.list_alerts("alpha", AlertState.ALL, kinds=[AlertKind.HARVEST_WINDOW])
    assert stored.alert.reason == moved.reason
    now[0] = _noon(dt.date(2026, 7, 16))
    assert watch.run_once() == []


def test_a_field_without_a_forecast_raises_nothing(tmp_path: Path) -> None:
    """No model or no season: no alert, whatever the date."""
    store = SqliteStore(tmp_path / "s.sqlite3")
    write_assets(store, "alpha", [FIELD])
    forecasts = Forecasts(dt.date(2026, 7, 10))
    forecasts.status = ForecastStatus.NO_MODEL
    watch = HarvestWatch(
        store, AlertStore(store), forecasts, clock=lambda: _noon(dt.date(2026, 7, 9))
    )
    assert watch.run_once() == []


def test_the_next_season_raises_its_own_alert(tmp_path: Path) -> None:
    """A second planting's window is a new alert, not the first season's."""
    store = SqliteStore(tmp_path / "s.sqlite3")
    write_assets(store, "alpha", [FIELD])
    now = [_noon(dt.date(2026, 7, 9))]
    first = HarvestWatch(
        store, AlertStore(store), Forecasts(dt.date(2026, 7, 10)), clock=lambda: now[0]
    )
    (one,) = first.run_once()

    def later(tenant: str, as_of: dt.date) -> list[FieldForecast]:
        f = _forecast(as_of, dt.date(2026, 9, 20))
        return [replace(f, planting=dt.date(2026, 7, 20))]

    now[0] = _noon(dt.date(2026, 9, 18))
    (two,) = HarvestWatch(store, AlertStore(store), later, clock=lambda: now[0]).run_once()
    assert two.id != one.id and two.ts_ms == int(now[0] * 1000)
