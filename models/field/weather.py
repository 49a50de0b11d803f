"""Hourly weather of one field from the store: air temperature, humidity and leaf wetness.

One read per variable with hour buckets (hourly means of the readings), filtered by the
tenant, the field's site and, when the field names one, its device. Each variable comes back
as a gap-free hourly grid over [first, last] in Asia/Tokyo days with NaN for hours without
readings; `fill_short_gaps` then bridges short gaps so that the chill models can run, and
leaves long ones missing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from core.time import MS_PER_HOUR, day_number, day_start_ms
from edge.protocol import SensorKind
from storage.layout import DEVICE
from storage.protocol import ReadingStore
from storage.query import Aggregate, Buckets, Function, Select, match

FloatArray = npt.NDArray[np.float64]

# Gaps up to this many hours are bridged linearly (a lost upload or two); a longer gap is
# missing weather, not something to invent. Our convention, stated in docs/field.md.
MAX_FILL_HOURS = 3


class Hourly(StrEnum):
    """The hourly variables read for field analytics (values: store measurements)."""

    TEMPERATURE = SensorKind.AIR_TEMPERATURE.value
    HUMIDITY = SensorKind.RELATIVE_HUMIDITY.value
    LEAF_WETNESS = SensorKind.LEAF_WETNESS.value


@dataclass(frozen=True, slots=True)
class HourlyWeather:
    """Hourly means from `start_ms` (a local midnight), one array per variable, NaN = none."""

    start_ms: int
    values: dict[Hourly, FloatArray]

    @property
    def hours(self) -> int:
        """Length of the grid."""
        return len(next(iter(self.values.values())))

    def has(self, variable: Hourly) -> bool:
        """Whether any hour holds a reading of `variable`."""
        return bool(np.isfinite(self.values[variable]).any())

    def times_ms(self) -> npt.NDArray[np.int64]:
        """Start of each hour, ms since the epoch."""
        return self.start_ms + np.arange(self.hours, dtype=np.int64) * MS_PER_HOUR


def read_hourly(
    store: ReadingStore,
    tenant: str,
    *,
    site: str,
    device: str | None,
    first: dt.date,
    last: dt.date,
) -> HourlyWeather:
    """Hourly means of each variable at the field over the local days [first, last]."""
    start_ms = day_start_ms(day_number(first))
    end_ms = day_start_ms(day_number(last) + 1)
    n = max(0, (end_ms - start_ms) // MS_PER_HOUR)
    values = {v: np.full(n, np.nan) for v in Hourly}
    if n == 0:
        return HourlyWeather(start_ms, values)
    selects = [
        Select(
            (v.value,),
            match(tenant=tenant, site=site, device=device or None),
            aggregates=(Aggregate(Function.MEAN, alias="mean"),),
            start_ms=start_ms,
            end_ms=end_ms,
            group_by=(DEVICE,),
            buckets=Buckets(MS_PER_HOUR),
        )
        for v in Hourly
    ]
    sums = {v: np.zeros(n) for v in Hourly}
    counts = {v: np.zeros(n) for v in Hourly}
    for variable, answer in zip(Hourly, store.rows_each(selects), strict=True):
        # Several devices at one site: their hourly means are averaged.
        for serie in answer:
            for row in serie.records():
                i = (int(row["time"]) - start_ms) // MS_PER_HOUR
                if row["mean"] is not None and 0 <= i < n:
                    sums[variable][i] += float(row["mean"])
                    counts[variable][i] += 1
    for v in Hourly:
        seen = counts[v] > 0
        values[v][seen] = sums[v][seen] / counts[v][seen]
    return HourlyWeather(start_ms, values)


def fill_short_gaps(values: FloatArray, max_hours: int = MAX_FILL_HOURS) -> FloatArray:
    """A copy with runs of at most `max_hours` missing hours between readings interpolated."""
    out = np.array(values, dtype=np.float64)
    missing = ~np.isfinite(out)
    if not missing.any() or missing.all():
        return out
    known = np.flatnonzero(~missing)
    i = 0
    while i < out.size:
        if not missing[i]:
            i += 1
            continue
        j = i
        while j < out.size and missing[j]:
            j += 1
        # Only inner gaps: before the first or after the last reading nothing is known.
        if i > known[0] and j <= known[-1] and j - i <= max_hours:
            out[i:j] = np.interp(np.arange(i, j), [i - 1, j], [out[i - 1], out[j]])
        i = j
    return out


def runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """[start, end) of each run of True in `mask`."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
