"""Apple scab alerts: every wet period of an apple field that met the revised Mills table.

Each pass reads the last `lookback_h` whole hours of leaf wetness and air temperature of every
registered apple field with a device (hourly means labelled by the hour's end, `storage.hourly`)
and judges the wet periods with `scab_infections` (night rule on: ascospores are released in
daylight). Leaf wetness is stored as the share of the sensor that is wet (0-100 %,
edge/protocol.py); an hour is wet when its mean share is at least 50 %. An hour without a
wetness reading counts as dry; a missing temperature inside the window is interpolated.

One alert per infection period, stamped at the end of the hour in which the period's wet hours
first reached the table's requirement at the mean temperature so far: later hours do not move
it, so every pass rewrites the same alert, with the period's newest wet hours and mean. A
period already wet at the window's first hour began before it and was judged by earlier passes
from its start; it is left alone, so a truncated view never stamps a second alert.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from core.time import JST, MS_PER_HOUR
from edge.protocol import SensorKind
from models.field.disease import (
    SCAB_DRY_GAP_HOURS,
    ScabInfection,
    WetnessUnit,
    scab_hours_required,
    scab_infections,
)
from storage.alert_types import Alert, AlertKind
from storage.alerts import AlertStore
from storage.assets import FieldAsset, asset_tenants, read_assets
from storage.hourly import HourlySeries, hourly_means
from storage.protocol import ReadingStore

log = logging.getLogger(__name__)

LOOKBACK_H = 96
NO_DEVICE = "-"
PERCENT = 100.0
_KINDS = (SensorKind.LEAF_WETNESS, SensorKind.AIR_TEMPERATURE)


class ScabWatch:
    """Raises scab-infection alerts for every tenant's apple fields with a wetness sensor."""

    def __init__(
        self,
        store: ReadingStore,
        alerts: AlertStore,
        *,
        lookback_h: int = LOOKBACK_H,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Read readings and the registry from `store`, write alerts to `alerts`."""
        self._store = store
        self._alerts = alerts
        self._lookback_h = lookback_h
        self._clock = clock

    def run_once(self) -> list[Alert]:
        """One pass over every tenant's apple fields; returns the alerts written. A failing
        field is logged and the others go on."""
        now_ms = int(self._clock() * 1000)
        raised: list[Alert] = []
        for tenant in asset_tenants(self._store):
            for fields in read_assets(self._store, tenant).fields.values():
                for field in fields:
                    if field.crop.strip().lower() != "apple" or not field.device:
                        continue
                    try:
                        raised.extend(self.field_alerts(tenant, field, now_ms=now_ms))
                    except Exception:
                        log.exception("scab check of %s/%s failed", tenant, field.asset)
        if raised:
            self._alerts.write(raised)
        return raised

    def field_alerts(self, tenant: str, field: FieldAsset, *, now_ms: int) -> list[Alert]:
        """The field's infection periods in the look-back, as alerts."""
        last_end = now_ms // MS_PER_HOUR * MS_PER_HOUR  # the last whole hour's end
        ends = last_end - MS_PER_HOUR * np.arange(self._lookback_h - 1, -1, -1, dtype=np.int64)
        found = hourly_means(
            self._store,
            tenant=tenant,
            site=field.site,
            device=field.device,
            kinds=_KINDS,
            start_ms=int(ends[0]) - MS_PER_HOUR,
            end_ms=last_end + 1,
            sensors=field.sensors,
        )
        if SensorKind.LEAF_WETNESS not in found or SensorKind.AIR_TEMPERATURE not in found:
            return []
        wet = _on_grid(found[SensorKind.LEAF_WETNESS], ends, fill=0.0)
        wet = np.clip(wet / PERCENT, 0.0, 1.0)
        temp = _on_grid(found[SensorKind.AIR_TEMPERATURE], ends, fill=np.nan)
        known = np.isfinite(temp)
        temp = np.interp(np.arange(len(ends)), np.flatnonzero(known), temp[known])
        # The disease rules read an hour by its start (07:00-08:00 is daylight).
        starts = [_local(int(t) - MS_PER_HOUR) for t in ends]
        out = []
        for event in scab_infections(
            wet, temp, unit=WetnessUnit.FLAG, times=starts, night_rule=True
        ):
            if _began_before(wet >= 0.5, event.period.start):
                continue
            met = _met_at(wet >= 0.5, temp, event)
            if met is not None:
                out.append(
                    _alert(tenant, field, event, int(ends[met]), int(ends[event.period.end]))
                )
        return out


def _on_grid(serie: HourlySeries, ends: np.ndarray, *, fill: float) -> np.ndarray:
    """The series' hourly values at the grid's hour ends, `fill` where an hour has none."""
    values = np.full(len(ends), fill, dtype=np.float64)
    index = {int(t): i for i, t in enumerate(ends)}
    for t, v in zip(serie.hour_end_ms, serie.values, strict=True):
        if t in index:
            values[index[t]] = v
    return values


def _local(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, JST).replace(tzinfo=None)


def _began_before(wet: np.ndarray, start: int) -> bool:
    """Whether the period counted from `start` is joined to a wet first hour of the window."""
    if not wet[0]:
        return False
    dry = 0
    for w in wet[:start]:
        dry = 0 if w else dry + 1
        if dry >= SCAB_DRY_GAP_HOURS:
            return False
    return True


def _met_at(wet: np.ndarray, temp: np.ndarray, event: ScabInfection) -> int | None:
    """The hour in which the period's counted wet hours first met the table, or None."""
    p = event.period
    counted = np.flatnonzero(wet[p.start : p.end + 1]) + p.start
    for k, i in enumerate(counted, start=1):
        need = scab_hours_required(float(temp[counted[:k]].mean()))
        if need is not None and k >= need:
            return int(i)
    return None


def _alert(tenant: str, field: FieldAsset, event: ScabInfection, met_ms: int, end_ms: int) -> Alert:
    p = event.period
    need = scab_hours_required(p.mean_temp_c)
    need_text = "?" if need is None else f"{need:.0f}"
    since = "" if p.start_time is None else f"{p.start_time:%m-%d %H:%M}"
    met = _local(met_ms)
    en = (
        f"field {field.asset} (apple): apple scab infection period on the revised Mills table. "
        f"Leaves wet {p.wet_hours} h from {since} at a mean {p.mean_temp_c:.1f} °C; "
        f"{need_text} h are needed at that temperature; met at {met:%m-%d %H:%M}. "
        "Check the protection of the last spray"
    )
    start = p.start_time
    since_ja = "" if start is None else f"{start.month}月{start.day}日{start.hour}時"
    ja = (
        f"圃場 {field.asset}（りんご）: 黒星病の感染好適条件（改訂ミルズ表）を満たしました。"
        f"葉の濡れ {p.wet_hours} 時間（{since_ja}から）、平均気温 {p.mean_temp_c:.1f} °C。"
        f"この気温での必要時間は {need_text} 時間で、"
        f"{met.month}月{met.day}日{met.hour}時に達しました。直前の防除の効果を確認してください"
    )
    return Alert(
        tenant,
        field.site,
        field.device or NO_DEVICE,
        field.asset,
        AlertKind.SCAB,
        met_ms,
        1.0,
        en,
        end_ms,
        reason_ja=ja,
    )


def run_scab(watch: ScabWatch, stop: threading.Event, every_s: float) -> None:
    """Check the apple fields every `every_s` until `stop` is set; a failure is logged."""
    while not stop.is_set():
        try:
            watch.run_once()
        except Exception:
            log.exception("scab check failed; trying again")
        stop.wait(every_s)
