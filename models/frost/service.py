"""The frost model's view of the store: a field's hourly weather and its apple bud stage today.

Hourly weather: the field's device's air temperature, humidity, wind and radiation, one mean
per hour labelled by the hour's end (`storage.hourly`), on the frost model's grid. Bud stage:
thermal time on the apple stage table's scale (models/field/stages.py) summed from March 1 of
the year to yesterday from the store's daily minimum and maximum (`storage.weather`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from core.time import JST, MS_PER_HOUR, day_number, day_start_ms
from edge.protocol import SensorKind
from models.field.stages import Stage as FieldStage
from models.field.stages import StageKey, stage_at, stage_table
from models.field.thermal import daily_gdd
from models.frost.critical import Stage
from models.frost.hourly import HourlyWeather, from_readings
from storage.assets import FieldAsset
from storage.hourly import hourly_means
from storage.protocol import ReadingStore
from storage.weather import Daily, daily_weather

_SERIES = {
    SensorKind.AIR_TEMPERATURE: "air_temperature",
    SensorKind.RELATIVE_HUMIDITY: "relative_humidity",
    SensorKind.WIND_SPEED: "wind_speed",
    SensorKind.SOLAR_RADIATION: "solar_radiation",
}
# The apple stage table sums from March 1 (stages.py: Cornell NRCC / Clements 2019).
SEASON_START = (3, 1)
# Fewer days with a minimum and maximum than this share of the days since March 1 and the
# stage is not estimated (a sum with many days missing would run late). A design choice.
MIN_DAY_COVERAGE = 0.8
# WSU's stages by the field table's keys; the table's petal fall (BBCH 67-69) is WSU's
# "post bloom". Dormant buds have no critical temperature in the WSU table.
FROST_STAGE: dict[StageKey, Stage] = {
    StageKey.SILVER_TIP: Stage.SILVER_TIP,
    StageKey.GREEN_TIP: Stage.GREEN_TIP,
    StageKey.HALF_INCH_GREEN: Stage.HALF_INCH_GREEN,
    StageKey.TIGHT_CLUSTER: Stage.TIGHT_CLUSTER,
    StageKey.FIRST_PINK: Stage.FIRST_PINK,
    StageKey.FULL_PINK: Stage.FULL_PINK,
    StageKey.FIRST_BLOOM: Stage.FIRST_BLOOM,
    StageKey.FULL_BLOOM: Stage.FULL_BLOOM,
    StageKey.PETAL_FALL: Stage.POST_BLOOM,
}


def local_naive(ms: int) -> dt.datetime:
    """A time (ms) as Japan wall-clock time without a zone, as the frost grid reads times."""
    return dt.datetime.fromtimestamp(ms / 1000, JST).replace(tzinfo=None)


def field_weather(
    store: ReadingStore, tenant: str, field: FieldAsset, *, start_ms: int, end_ms: int
) -> HourlyWeather | None:
    """The field's hourly weather in [start, end) from its device; None without temperature."""
    found = hourly_means(
        store,
        tenant=tenant,
        site=field.site,
        device=field.device,
        kinds=tuple(_SERIES),
        start_ms=start_ms,
        end_ms=end_ms,
        sensors=field.sensors,
    )
    if SensorKind.AIR_TEMPERATURE not in found:
        return None
    labels = sorted({t for s in found.values() for t in s.hour_end_ms})
    index = {t: i for i, t in enumerate(labels)}
    values: dict[str, list[float]] = {}
    for kind, serie in found.items():
        column = [float("nan")] * len(labels)
        for t, v in zip(serie.hour_end_ms, serie.values, strict=True):
            column[index[t]] = v
        values[_SERIES[kind]] = column
    # Hour labels are exact hour ends, so the grid puts each mean in its own hour.
    times = [local_naive(t) for t in labels]
    return from_readings(times, values, tuple(values))


@dataclass(frozen=True, slots=True)
class BudStage:
    """The field's stage today from thermal time, and the frost stage it maps to (or None)."""

    stage: FieldStage
    frost_stage: Stage | None
    degree_days: float
    days: int
    days_known: int


def season_start(day: dt.date) -> dt.date:
    """March 1 of the day's year."""
    return dt.date(day.year, *SEASON_START)


def bud_stage(
    store: ReadingStore, tenant: str, field: FieldAsset, today: dt.date
) -> BudStage | None:
    """The apple stage reached by yesterday; None before March 1 or with too few days known.

    Days without a minimum or maximum are filled by linear interpolation between known days
    (and the nearest known day at the ends), once enough of them are known.
    """
    start, last = season_start(today), today - dt.timedelta(days=1)
    table = stage_table("apple")
    if last < start:
        return None
    found = daily_weather(store, tenant, {field.site: field.device}, start, last).get(field.site)
    days = (last - start).days + 1
    if found is None:
        return None
    tmin, tmax = found.column(Daily.TMIN), found.column(Daily.TMAX)
    known = np.isfinite(tmin) & np.isfinite(tmax)
    if known.sum() < MIN_DAY_COVERAGE * days:
        return None
    x = np.arange(days)
    lo = np.interp(x, x[known], tmin[known])
    hi = np.interp(x, x[known], tmax[known])
    total = float(np.sum(daily_gdd(lo, hi, thermal=table.thermal)))
    stage = stage_at("apple", total)
    return BudStage(stage, FROST_STAGE.get(stage.key), total, days, int(known.sum()))


def day_ms(day: dt.date, hour: int = 0) -> int:
    """The moment (ms) of `hour`:00 Japan time on `day`."""
    return day_start_ms(day_number(day)) + hour * MS_PER_HOUR
