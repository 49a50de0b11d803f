"""Frost alerts: at each issue time, every apple field whose night could kill blossom buds.

At or after each issue time (15:00 and 21:00 Japan time) each pass forecasts tonight's minimum
for every registered apple field with a device: the site's own frost forecaster, trained on the
field's stored hourly history (refitted at most once a day, kept in memory), or the physical
rule when the history cannot train one. The bud stage comes from thermal time since March 1
(models/frost/service.py). When the 80 % interval's lower bound is below the stage's 10 % kill
temperature the field gets a `frost_risk` alert (severe below the 90 % kill).

One alert per field and night: it is stamped at the night's first warning issue time, found
again among the field's alerts of that day, so a later issue time that still warns rewrites it
with its own forecast instead of adding one. Each issue time is judged once per night (per
process); an issue time whose readings have not arrived yet is tried again on the next pass.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.time import JST, MS_PER_DAY
from models.frost.critical import WarningLevel, critical_temperature, frost_warning
from models.frost.features import DEFAULT_ISSUE_HOURS, MORNING_HOUR, night_rows
from models.frost.forecaster import MIN_NIGHTS, FrostForecaster, Method
from models.frost.hourly import FrostError, HourlyWeather
from models.frost.physical import PhysicalRule
from models.frost.service import BudStage, bud_stage, day_ms, field_weather, season_start
from storage.alert_types import Alert, AlertKind, AlertState
from storage.alerts import AlertStore
from storage.assets import FieldAsset, asset_tenants, read_assets
from storage.protocol import ReadingStore

log = logging.getLogger(__name__)

HISTORY_DAYS = 365
# Late spring frosts are the blossom-bud risk the WSU table describes; after June the buds
# have set fruit, and an autumn frost must not be judged with blossom temperatures. The end
# date is a design choice, not a published number (docs/frost.md).
SEASON_END = (6, 30)
NO_DEVICE = "-"
SCORE = {WarningLevel.SEVERE: 1.0, WarningLevel.WARNING: 0.5}
LEVEL_EN = {WarningLevel.SEVERE: "severe frost", WarningLevel.WARNING: "frost warning"}
LEVEL_JA = {WarningLevel.SEVERE: "霜警戒", WarningLevel.WARNING: "霜注意"}


@dataclass(frozen=True, slots=True)
class Tonight:
    """One field's forecast at one issue time: the numbers and what made them."""

    issued_at: dt.datetime
    forecast: float
    low: float
    high: float
    method: Method
    nights: int
    # Whether the field's model was trained (a rule forecast then means missing recent hours).
    trained: bool = False


@dataclass(slots=True)
class _Fitted:
    """A field's forecaster (None: the published rule alone) and the day it was fitted."""

    day: dt.date
    model: FrostForecaster | None
    nights: int


class FrostWatch:
    """Raises frost-risk alerts for every tenant's apple fields at the issue times."""

    def __init__(
        self,
        store: ReadingStore,
        alerts: AlertStore,
        *,
        issue_hours: tuple[int, ...] = DEFAULT_ISSUE_HOURS,
        history_days: int = HISTORY_DAYS,
        min_nights: int = MIN_NIGHTS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Read weather and the registry from `store`, write alerts to `alerts`."""
        self._store = store
        self._alerts = alerts
        self._hours = tuple(sorted(issue_hours))
        self._history_ms = history_days * MS_PER_DAY
        self._min_nights = min_nights
        self._clock = clock
        self._fitted: dict[tuple[str, str, str], _Fitted] = {}
        self._done: set[tuple[str, str, str, dt.datetime]] = set()

    def run_once(self) -> list[Alert]:
        """One pass: judge the latest issue time reached today for every apple field not yet
        judged at it; returns the alerts written. A failing field is logged, the rest go on."""
        now_ms = int(self._clock() * 1000)
        now = dt.datetime.fromtimestamp(now_ms / 1000, JST)
        due = [h for h in self._hours if now.hour >= h]
        if not due:
            return []
        issued = dt.datetime.combine(now.date(), dt.time(due[-1]))
        # Only today's issue times can come again; earlier nights' marks are dropped.
        self._done = {k for k in self._done if k[3].date() == issued.date()}
        raised: list[Alert] = []
        for tenant in asset_tenants(self._store):
            for fields in read_assets(self._store, tenant).fields.values():
                for field in fields:
                    if field.crop.strip().lower() != "apple" or not field.device:
                        continue
                    key = (tenant, field.site, field.asset, issued)
                    if key in self._done:
                        continue
                    try:
                        alert = self.check(tenant, field, issued, now_ms=now_ms)
                    except _NotYetError:
                        continue
                    except Exception:
                        log.exception("frost check of %s/%s failed", tenant, field.asset)
                        continue
                    self._done.add(key)
                    if alert is not None:
                        raised.append(alert)
        if raised:
            self._alerts.write(raised)
        return raised

    def check(
        self, tenant: str, field: FieldAsset, issued: dt.datetime, *, now_ms: int
    ) -> Alert | None:
        """The field's alert for the night of `issued` (naive, Japan time), or None."""
        day = issued.date()
        if not season_start(day) <= day <= dt.date(day.year, *SEASON_END):
            return None
        stage = bud_stage(self._store, tenant, field, day)
        if stage is None or stage.frost_stage is None:
            return None
        tonight = self.forecast(tenant, field, issued, now_ms=now_ms)
        level = frost_warning(tonight.low, stage.frost_stage)
        if level is None:
            return None
        return self._alert(tenant, field, stage, tonight, level, now_ms=now_ms)

    def forecast(
        self, tenant: str, field: FieldAsset, issued: dt.datetime, *, now_ms: int
    ) -> Tonight:
        """Tonight's minimum at `issued` from the field's history (_NotYetError: hours missing)."""
        weather = field_weather(
            self._store, tenant, field, start_ms=now_ms - self._history_ms, end_ms=now_ms + 1
        )
        if weather is None:
            raise _NotYetError
        fitted = self._model(tenant, field, weather, issued.date())
        if fitted.model is not None:
            for f in fitted.model.predict_nights(weather):
                if f.issued_at == issued and f.method is not Method.NONE:
                    trained = fitted.model.method_ is Method.MODEL
                    return Tonight(
                        issued, f.forecast, f.low, f.high, f.method, fitted.nights, trained
                    )
            raise _NotYetError
        return _rule_forecast(weather, issued, self._hours, fitted.nights)

    def _model(
        self, tenant: str, field: FieldAsset, weather: HourlyWeather, day: dt.date
    ) -> _Fitted:
        """The field's forecaster, refitted on the first use of each day."""
        key = (tenant, field.site, field.asset)
        fitted = self._fitted.get(key)
        if fitted is not None and fitted.day == day:
            return fitted
        try:
            model = FrostForecaster(issue_hours=self._hours, min_nights=self._min_nights)
            model.fit(weather)
            fitted = _Fitted(day, model, int(model.nights_))
        except FrostError:
            fitted = _Fitted(day, None, 0)
        self._fitted[key] = fitted
        return fitted

    def _alert(
        self,
        tenant: str,
        field: FieldAsset,
        stage: BudStage,
        tonight: Tonight,
        level: WarningLevel,
        *,
        now_ms: int,
    ) -> Alert:
        """The night's alert, keeping the stamp of an earlier issue time's alert that night."""
        issue_ms = day_ms(tonight.issued_at.date(), tonight.issued_at.hour)
        day_start = day_ms(tonight.issued_at.date())
        earlier = [
            v.alert.ts_ms
            for v in self._alerts.list_alerts(
                tenant, AlertState.ALL, site=field.site, kinds=[AlertKind.FROST]
            )
            if v.alert.sensor == field.asset and day_start <= v.alert.ts_ms < day_start + MS_PER_DAY
        ]
        en, ja = reasons(field, stage, tonight, level)
        return Alert(
            tenant,
            field.site,
            field.device or NO_DEVICE,
            field.asset,
            AlertKind.FROST,
            min([*earlier, issue_ms]),
            SCORE[level],
            en,
            now_ms,
            reason_ja=ja,
        )


class _NotYetError(Exception):
    """The issue time's readings are not in the store yet: try again on the next pass."""


def _rule_forecast(
    weather: HourlyWeather, issued: dt.datetime, hours: tuple[int, ...], nights: int
) -> Tonight:
    """The physical rule with its published K range, for a field that cannot train a model."""
    rows = night_rows(weather, hours, MORNING_HOUR)
    for i, at in enumerate(rows.issued_at()):
        if at == issued:
            fc, lo, hi = PhysicalRule().predict(rows.t_midday[i : i + 1], rows.td_midday[i : i + 1])
            if np.isfinite(fc[0]):
                rule = Method.PHYSICAL_RULE
                return Tonight(issued, float(fc[0]), float(lo[0]), float(hi[0]), rule, nights)
    raise _NotYetError


def _c(value: float) -> str:
    return f"{value:.1f} °C" if math.isfinite(value) else "?"


def reasons(
    field: FieldAsset, stage: BudStage, tonight: Tonight, level: WarningLevel
) -> tuple[str, str]:
    """Why, in English and Japanese: forecast, interval, stage, critical temperatures, method."""
    assert stage.frost_stage is not None
    crit = critical_temperature(stage.frost_stage)
    at = f"{tonight.issued_at:%H:%M}"
    morning = f"{MORNING_HOUR:02d}:00"
    if tonight.method is Method.MODEL:
        how_en = f"Forecast by the field's own model (trained on {tonight.nights} nights)"
        how_ja = f"予測: 圃場の予測モデル（学習 {tonight.nights} 夜）"
    elif tonight.trained:
        how_en = (
            "Forecast by the fallback physical rule (Craddock & Pritchard), because the field's "
            "temperature near the issue time is missing"
        )
        how_ja = (
            "予測: 発表時刻付近の気温が欠けているため、"
            "代替の物理式（Craddock & Pritchard）による予測です"
        )
    else:
        how_en = (
            "Forecast by the fallback physical rule (Craddock & Pritchard), because the field's "
            f"history has too few whole nights to train its model ({tonight.nights} whole nights)"
        )
        how_ja = (
            "予測: 学習できる夜の記録が足りないため、代替の物理式（Craddock & Pritchard）"
            f"による予測です（記録の揃った夜 {tonight.nights}）"
        )
    en = (
        f"field {field.asset} (apple, {stage.stage.name_en}): {LEVEL_EN[level]}. "
        f"Tonight's minimum (issued {at}, until {morning} tomorrow; the hour of the minimum "
        f"is not forecast) is {_c(tonight.forecast)}, 80 % interval {_c(tonight.low)} to "
        f"{_c(tonight.high)}; the stage's critical temperatures are {_c(crit.kill_10)} (10 % "
        f"bud kill) and {_c(crit.kill_90)} (90 %). Bud stage from {stage.degree_days:.0f} °C·d "
        f"since March 1. {how_en}"
    )
    ja = (
        f"圃場 {field.asset}（りんご、{stage.stage.name_ja}）: {LEVEL_JA[level]}。"
        f"今夜の最低気温の予測（{at}発表、明朝{MORNING_HOUR}時まで。最低となる時刻は予測して"
        f"いません）は {_c(tonight.forecast)}、80 % 予測区間 {_c(tonight.low)}〜"
        f"{_c(tonight.high)} です。この生育ステージの危険温度は {_c(crit.kill_10)}（花芽の10 % "
        f"が枯死）、{_c(crit.kill_90)}（90 %）。生育ステージは3月1日からの積算温度 "
        f"{stage.degree_days:.0f} °C·日 から推定。{how_ja}"
    )
    return en, ja


def run_frost(watch: FrostWatch, stop: threading.Event, every_s: float) -> None:
    """Check the apple fields every `every_s` until `stop` is set; a failure is logged."""
    while not stop.is_set():
        try:
            watch.run_once()
        except Exception:
            log.exception("frost check failed; trying again")
        stop.wait(every_s)


def replay_nights(store: ReadingStore, alerts: AlertStore, days: Sequence[dt.date]) -> list[Alert]:
    """The watch as it would have run on `days`: a pass just after each issue time, on the
    readings up to that moment only; returns the alerts it wrote (after a backfill, or for a
    demonstration of a past night)."""
    moment = [0.0]
    watch = FrostWatch(store, alerts, clock=lambda: moment[0])
    raised: list[Alert] = []
    for day in days:
        for hour in DEFAULT_ISSUE_HOURS:
            moment[0] = dt.datetime.combine(day, dt.time(hour, 5), JST).timestamp()
            raised.extend(watch.run_once())
    return raised
