"""Daily weather per farm field as the harvest model reads it; the store computes it
(`storage.weather`), this module hands it over as `FieldWeather`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from models.harvest.types import FieldWeather
from storage.influx.client import InfluxStore
from storage.weather import MIN_DAY_SHARE, W_M2_DAY_TO_MJ, Daily, daily_weather  # noqa: F401


def read_daily_weather(
    store: InfluxStore,
    tenant: str,
    fields: Mapping[str, str | None],
    first: dt.date,
    last: dt.date,
) -> dict[str, FieldWeather]:
    """Daily weather of each field (site → its device, or None for any) over [first, last].

    Fields without any temperature in the range are left out. Raises the store's errors.
    """
    found = daily_weather(store, tenant, fields, first, last)
    return {
        site: FieldWeather(site, daily.first_day, *(daily.column(v) for v in Daily))
        for site, daily in found.items()
    }
