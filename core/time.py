"""Time as the platform counts it: milliseconds since the epoch in UTC, days in Japan's time.

Every site is in Japan, which has kept standard time (UTC+9, no daylight saving) since 1951,
so a local day is a fixed offset from UTC and needs no time zone database.
"""

from __future__ import annotations

import datetime as dt
import math
import re

MS_PER_SECOND = 1_000
MS_PER_MINUTE = 60 * MS_PER_SECOND
MS_PER_HOUR = 60 * MS_PER_MINUTE
MS_PER_DAY = 24 * MS_PER_HOUR
MS_PER_WEEK = 7 * MS_PER_DAY

# The IANA name, for InfluxQL's tz() and for people reading dates.
TIMEZONE = "Asia/Tokyo"
JST_OFFSET_MS = 9 * MS_PER_HOUR
JST = dt.timezone(dt.timedelta(milliseconds=JST_OFFSET_MS), "JST")
# Day numbers count days since this date (the harvest model's and the simulators' days).
EPOCH_DATE = dt.date(1970, 1, 1)

_DURATION_UNITS_MS = {
    "ms": 1,
    "s": MS_PER_SECOND,
    "m": MS_PER_MINUTE,
    "h": MS_PER_HOUR,
    "d": MS_PER_DAY,
    "w": MS_PER_WEEK,
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")


def local_day(ts_ms: int) -> int:
    """The JST calendar day of a timestamp, as days since 1970-01-01."""
    return (ts_ms + JST_OFFSET_MS) // MS_PER_DAY


def day_start_ms(day: int) -> int:
    """UTC ms of JST midnight at the start of a local day."""
    return day * MS_PER_DAY - JST_OFFSET_MS


def day_number(day: dt.date) -> int:
    """Days since 1970-01-01 of a date."""
    return (day - EPOCH_DATE).days


def from_day_number(day: int) -> dt.date:
    """The date `day` days after 1970-01-01."""
    return EPOCH_DATE + dt.timedelta(days=int(day))


def local_today(now: dt.datetime | None = None) -> dt.date:
    """Today's date in Japan (at `now`, by default the current time)."""
    moment = now or dt.datetime.now(dt.UTC)
    return moment.astimezone(JST).date()


def to_ms(value: dt.datetime) -> int:
    """Milliseconds since the epoch; a time without zone is taken as UTC.

    Raises OverflowError, ValueError or OSError for a time the platform cannot represent.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp() * 1000)


def from_ms(ms: int) -> dt.datetime:
    """An aware UTC datetime from milliseconds since the epoch."""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def iso_utc(ms: int, timespec: str = "auto") -> str:
    """ISO 8601 in UTC with a `Z`, e.g. `2026-01-01T00:00:00Z`."""
    return from_ms(ms).isoformat(timespec=timespec).replace("+00:00", "Z")


def parse_duration_ms(text: str | float, *, bare_unit: str | None = "s") -> int:
    """Milliseconds of `250ms`, `90s`, `30m`, `6h`, `2d`, `1w`, or of a number of `bare_unit`.

    A number without unit (or an int or float) counts in `bare_unit`; with `bare_unit=None` a
    unit is required. Raises ValueError, whose text says what was wrong.
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        if bare_unit is None or not math.isfinite(text) or text < 0:
            raise ValueError(f"a duration must be a non-negative number, got {text!r}")
        return round(text * _DURATION_UNITS_MS[bare_unit])
    match = _DURATION.match(str(text))
    if match is None or (match.group(2) is None and bare_unit is None):
        raise ValueError(f"cannot read {text!r} as a duration (e.g. 90s, 30m, 6h, 2d)")
    number, unit = match.groups()
    return round(float(number) * _DURATION_UNITS_MS[unit or bare_unit])
