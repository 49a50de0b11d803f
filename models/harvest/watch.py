"""Harvest-window alerts: a field whose forecast harvest window opens within a few days.

Each pass forecasts every registered field of every tenant (as the farm page does) and raises
one alert per field and season once the window's first day is `notice_days` away or nearer,
until its last day. The forecast moves a little from day to day, so the alert keeps the time it
was first raised (found again among the field's alerts of this season) and only its dates and
`last_seen` change: one notification per season, with the newest dates in the inbox.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from core.time import JST, day_number, day_start_ms
from models.harvest.service import FieldForecast, ForecastStatus, to_date
from storage.alert_types import Alert, AlertKind, AlertState
from storage.alerts import AlertStore
from storage.assets import asset_tenants
from storage.protocol import ReadingStore

log = logging.getLogger(__name__)

NOTICE_DAYS = 3
# A field without a device is still a place: its alerts name no device.
NO_DEVICE = "-"

# The tenant's fields with their forecasts as of a day (ForecastService.fields).
FieldForecasts = Callable[[str, dt.date], list[FieldForecast]]

CROPS_JA = {"lettuce": "レタス", "apple": "りんご", "rice": "水稲", "grape": "ぶどう"}


@dataclass(frozen=True, slots=True)
class Opening:
    """A field whose harvest window is near: its forecast window and maturity interval."""

    forecast: FieldForecast
    start: dt.date
    end: dt.date


class HarvestWatch:
    """Raises harvest-window alerts for every tenant's registered fields."""

    def __init__(
        self,
        store: ReadingStore,
        alerts: AlertStore,
        forecasts: FieldForecasts,
        *,
        notice_days: int = NOTICE_DAYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Forecast through `forecasts`, find tenants and write alerts through `store`."""
        self._store = store
        self._alerts = alerts
        self._forecasts = forecasts
        self._notice = dt.timedelta(days=notice_days)
        self._clock = clock

    def run_once(self) -> list[Alert]:
        """One pass over every tenant's fields; returns the alerts written. A tenant whose
        forecasts fail is logged and the others go on."""
        now_ms = int(self._clock() * 1000)
        today = dt.datetime.fromtimestamp(now_ms / 1000, JST).date()
        raised: list[Alert] = []
        for tenant in asset_tenants(self._store):
            try:
                for opening in self.openings(tenant, today):
                    raised.append(self._alert(tenant, opening, now_ms))
            except Exception:
                log.exception("harvest-window check of %s failed", tenant)
        if raised:
            self._alerts.write(raised)
        return raised

    def openings(self, tenant: str, today: dt.date) -> list[Opening]:
        """The tenant's fields whose window opens within the notice or is open today."""
        # Yesterday is the last day with complete weather: the farm page's default as-of day.
        out = []
        for forecast in self._forecasts(tenant, today - dt.timedelta(days=1)):
            p = forecast.prediction
            if forecast.status is not ForecastStatus.OK or p is None:
                continue
            if not (math.isfinite(p.window_start) and math.isfinite(p.window_end)):
                continue
            start, end = to_date(p.window_start), to_date(p.window_end)
            if start - self._notice <= today <= end:
                out.append(Opening(forecast, start, end))
        return out

    def _alert(self, tenant: str, opening: Opening, now_ms: int) -> Alert:
        asset = opening.forecast.asset
        planting = opening.forecast.planting
        since_ms = day_start_ms(day_number(planting)) if planting else 0
        earlier = [
            v.alert
            for v in self._alerts.list_alerts(
                tenant, AlertState.ALL, site=asset.site, kinds=[AlertKind.HARVEST_WINDOW]
            )
            if v.alert.sensor == asset.asset and v.alert.ts_ms >= since_ms
        ]
        raised_ms = min((a.ts_ms for a in earlier), default=now_ms)
        en, ja = _reasons(opening)
        return Alert(
            tenant,
            asset.site,
            asset.device or NO_DEVICE,
            asset.asset,
            AlertKind.HARVEST_WINDOW,
            raised_ms,
            1.0,
            en,
            now_ms,
            reason_ja=ja,
        )


def _reasons(opening: Opening) -> tuple[str, str]:
    """Why: the field, its crop and the forecast window, in English and Japanese."""
    asset, p = opening.forecast.asset, opening.forecast.prediction
    assert p is not None
    crop = asset.crop.strip().lower()
    low, high = to_date(p.maturity_low), to_date(p.maturity_high)
    interval = math.isfinite(p.maturity_low) and math.isfinite(p.maturity_high)
    en = (
        f"field {asset.asset} ({crop}): the harvest window is forecast from {opening.start} to "
        f"{opening.end}" + (f" (maturity likely between {low} and {high})" if interval else "")
    )
    ja = (
        f"圃場 {asset.asset}（{CROPS_JA.get(crop, crop)}）: 収穫適期は {_ja(opening.start)}〜"
        f"{_ja(opening.end)} と予測されます"
        + (f"（成熟日の予測範囲 {_ja(low)}〜{_ja(high)}）" if interval else "")
    )
    return en, ja


def _ja(day: dt.date) -> str:
    return f"{day.month}月{day.day}日"


def run_harvest(watch: HarvestWatch, stop: threading.Event, every_s: float) -> None:
    """Check the harvest windows every `every_s` until `stop` is set; a failure is logged."""
    while not stop.is_set():
        try:
            watch.run_once()
        except Exception:
            log.exception("harvest-window check failed; trying again")
        stop.wait(every_s)
