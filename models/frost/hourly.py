"""One site's weather on a regular grid of clock hours, local time, labelled by the hour's end.

A reading stamped 17:20 belongs to the hour labelled 18:00, because it is known by 18:00: a
forecast issued at 18:00 may use every hour labelled 18:00 or earlier and nothing else. Readings
inside one hour are averaged. Missing hours and missing columns are NaN.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from models.errors import ModelError
from models.field.vpd import MAGNUS_A, MAGNUS_B_C

FloatArray = npt.NDArray[np.float64]
HOURS = 24
# The Magnus formula over water with the coefficients of Alduchov & Eskridge (1996), as
# models.field.vpd cites them.


class FrostError(ModelError):
    """Weather, parameters or a stored frost model that cannot be used; the text says why."""


def dew_point(temperature: FloatArray, relative_humidity: FloatArray) -> FloatArray:
    """Dew point (°C) from air temperature (°C) and relative humidity (%), Magnus formula."""
    rh = np.clip(np.asarray(relative_humidity, dtype=np.float64), 1.0, 100.0)
    t = np.asarray(temperature, dtype=np.float64)
    gamma = np.log(rh / 100.0) + MAGNUS_A * t / (MAGNUS_B_C + t)
    return MAGNUS_B_C * gamma / (MAGNUS_A - gamma)


def relative_humidity(temperature: FloatArray, dew: FloatArray) -> FloatArray:
    """Relative humidity (%) from air temperature and dew point (°C), Magnus formula."""
    t = np.asarray(temperature, dtype=np.float64)
    td = np.asarray(dew, dtype=np.float64)
    ratio = np.exp(MAGNUS_A * td / (MAGNUS_B_C + td) - MAGNUS_A * t / (MAGNUS_B_C + t))
    return np.minimum(100.0 * ratio, 100.0)


@dataclass(frozen=True, slots=True, eq=False)
class HourlyWeather:
    """Hourly series from `first_day` 01:00 on; row d of `grid(x)` is day d's 24 hours.

    Column j of a day row is the hour labelled j:00 of that date (j = 0 is midnight at the
    start of the date, the hour 23:00-24:00 of the previous evening).
    """

    first_day: dt.date
    air_temperature: FloatArray
    dew_point: FloatArray
    relative_humidity: FloatArray
    wind_speed: FloatArray
    solar_radiation: FloatArray
    columns: tuple[str, ...] = field(default=())

    @property
    def days(self) -> int:
        """Number of whole days on the grid."""
        return len(self.air_temperature) // HOURS

    def grid(self, values: FloatArray) -> FloatArray:
        """A series as a (days, 24) array."""
        return np.asarray(values, dtype=np.float64).reshape(self.days, HOURS)

    def date(self, day: int) -> dt.date:
        """The calendar date of grid row `day`."""
        return self.first_day + dt.timedelta(days=day)

    def last_label(self) -> dt.datetime | None:
        """The last hour label with any reading, or None when there is none."""
        known = np.isfinite(self.air_temperature) | np.isfinite(self.dew_point)
        idx = np.flatnonzero(known)
        if not len(idx):
            return None
        start = dt.datetime.combine(self.first_day, dt.time())
        return start + dt.timedelta(hours=int(idx[-1]))

    def with_values(self, **columns: FloatArray) -> HourlyWeather:
        """A copy with some series replaced (same length)."""
        values = {
            name: np.asarray(columns.get(name, getattr(self, name)), dtype=np.float64)
            for name in SERIES
        }
        return HourlyWeather(self.first_day, columns=self.columns, **values)


SERIES = ("air_temperature", "dew_point", "relative_humidity", "wind_speed", "solar_radiation")


def from_readings(
    times: list[dt.datetime], values: dict[str, list[float]], columns: tuple[str, ...]
) -> HourlyWeather:
    """The hourly grid of readings at local wall-clock `times` (naive), NaN where missing.

    `values` maps series names to one value per time (NaN: not read); absent series are NaN.
    Dew point is filled from relative humidity where it is missing, and the other way round.
    """
    if not times:
        raise FrostError("no readings")
    first = min(times).date()
    start = dt.datetime.combine(first, dt.time())
    # Hour-ending labels: a reading at 17:20 is known at 18:00; one at 18:00 sharp is 18:00's.
    labels = np.array(
        [int(np.ceil((t - start) / dt.timedelta(hours=1))) for t in times], dtype=np.int64
    )
    days = int(labels.max()) // HOURS + 1
    n = days * HOURS
    series: dict[str, FloatArray] = {}
    for name in SERIES:
        raw = np.asarray(values.get(name, [np.nan] * len(times)), dtype=np.float64)
        ok = np.isfinite(raw)
        total = np.bincount(labels[ok], weights=raw[ok], minlength=n)
        count = np.bincount(labels[ok], minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            series[name] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    t = series["air_temperature"]
    from_rh = dew_point(t, series["relative_humidity"])
    series["dew_point"] = np.where(np.isfinite(series["dew_point"]), series["dew_point"], from_rh)
    from_td = relative_humidity(t, series["dew_point"])
    rh = series["relative_humidity"]
    series["relative_humidity"] = np.where(np.isfinite(rh), rh, from_td)
    return HourlyWeather(first, columns=columns, **series)
