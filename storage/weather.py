"""Daily weather per farm field, computed by the store from the stored readings in Asia/Tokyo days.

The harvest model wants one row per field and local day: minimum and maximum air temperature
(°C), global radiation (MJ m⁻² day⁻¹, the day's mean irradiance in W m⁻² times 0.0864), rain
(mm, the sum of the gauge's per-reading amounts) and mean soil moisture (% vol). Each comes from
one read with day buckets in Asia/Tokyo, so buckets start at local midnight. A day
whose readings of a variable number fewer than half the usual daily count of that series (a
station that came up at noon, a gap, today so far) is left missing for that variable: a half
day's maximum or rain sum would be wrong, and the model fills missing days itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from core.time import MS_PER_DAY, TIMEZONE, day_number, day_start_ms, local_day
from edge.protocol import SensorKind
from storage.layout import DEVICE, SITE
from storage.protocol import ReadingStore
from storage.query import Aggregate, Buckets, Function, Rows, Select, match

W_M2_DAY_TO_MJ = 86_400 / 1e6
MIN_DAY_SHARE = 0.5


class Daily(StrEnum):
    """The daily variables, in the column order of `DailyWeather.table`."""

    TMIN = "tmin"
    TMAX = "tmax"
    RADIATION = "radiation"
    RAIN = "rain"
    SOIL_MOISTURE = "soil_moisture"


@dataclass(frozen=True, slots=True)
class _Source:
    """How one or two daily variables come from one sensor kind."""

    kind: SensorKind
    selects: tuple[tuple[Function, Daily], ...]
    scale: float = 1.0


_SOURCES = (
    _Source(SensorKind.AIR_TEMPERATURE, ((Function.MIN, Daily.TMIN), (Function.MAX, Daily.TMAX))),
    _Source(SensorKind.SOLAR_RADIATION, ((Function.MEAN, Daily.RADIATION),), W_M2_DAY_TO_MJ),
    _Source(SensorKind.RAINFALL, ((Function.SUM, Daily.RAIN),)),
    _Source(SensorKind.SOIL_MOISTURE, ((Function.MEAN, Daily.SOIL_MOISTURE),)),
)
_COLUMN = {v: i for i, v in enumerate(Daily)}


@dataclass(frozen=True, slots=True)
class DailyWeather:
    """One field's daily weather from `first_day` (days since 1970-01-01): a row per day and a
    column per `Daily` variable, NaN where missing."""

    site: str
    first_day: int
    table: npt.NDArray[np.float64]

    def column(self, variable: Daily) -> npt.NDArray[np.float64]:
        """One variable's days, as a copy."""
        return self.table[:, _COLUMN[variable]].copy()


def _select(
    source: _Source, tenant: str, sites: Sequence[str], start_ms: int, end_ms: int
) -> Select:
    """The source's daily aggregates per site and device, with each day's count of points."""
    aggregates = [Aggregate(fn, alias=var.value) for fn, var in source.selects]
    return Select(
        (source.kind.value,),
        match(tenant=tenant, site=sites),
        aggregates=(*aggregates, Aggregate(Function.COUNT, alias="n")),
        start_ms=start_ms,
        end_ms=end_ms,
        group_by=(SITE, DEVICE),
        buckets=Buckets(MS_PER_DAY, timezone=TIMEZONE),
    )


def daily_weather(
    store: ReadingStore,
    tenant: str,
    fields: Mapping[str, str | None],
    first: dt.date,
    last: dt.date,
) -> dict[str, DailyWeather]:
    """Daily weather of each field (site → its device, or None for any) over [first, last].

    Fields without any temperature in the range are left out. Raises the store's errors.
    """
    if not fields or last < first:
        return {}
    first_day, last_day = day_number(first), day_number(last)
    start_ms = day_start_ms(first_day)
    end_ms = day_start_ms(last_day + 1)
    sites = list(fields)
    answers = store.rows_each([_select(s, tenant, sites, start_ms, end_ms) for s in _SOURCES])
    n = last_day - first_day + 1
    tables = {site: np.full((n, len(Daily)), np.nan) for site in fields}
    for source, answer in zip(_SOURCES, answers, strict=True):
        for serie in answer:
            site = serie.tags.get(SITE)
            # A field named with its device reads that device's sensors only.
            if site not in tables or fields[site] not in (None, serie.tags.get(DEVICE)):
                continue
            _fill(tables[site], serie, source, first_day)
    return {
        site: DailyWeather(site, first_day, table)
        for site, table in tables.items()
        if np.isfinite(table[:, _COLUMN[Daily.TMIN]]).any()
    }


def _fill(table: np.ndarray, serie: Rows, source: _Source, first_day: int) -> None:
    """Write one series' daily rows into `table`, leaving thinly covered days missing."""
    rows = list(serie.records())
    counts = np.array([row["n"] or 0 for row in rows], dtype=np.float64)
    if not len(counts):
        return
    # The usual daily count of this series; a day far below it is not a whole day.
    enough = counts >= MIN_DAY_SHARE * float(np.median(counts))
    for row, ok in zip(rows, enough, strict=True):
        index = local_day(int(row["time"])) - first_day
        if not ok or not 0 <= index < len(table):
            continue
        for _fn, var in source.selects:
            value = row[var.value]
            if value is not None:
                table[index, _COLUMN[var]] = float(value) * source.scale
