"""Reading the hourly weather file and writing the nightly forecasts file (docs/frost.md)."""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

from models.frost.hourly import SERIES, FrostError, HourlyWeather, from_readings

TIME = "time"
OPTIONAL = ("relative_humidity", "dew_point", "wind_speed", "solar_radiation")
MISSING_TEXT = frozenset({"", "na", "nan", "null", "none", "-"})
# Plausibility limits: values outside are typos or unit mistakes, not weather.
LIMITS: dict[str, tuple[float, float]] = {
    "air_temperature": (-60.0, 60.0),
    "dew_point": (-80.0, 60.0),
    "relative_humidity": (0.0, 105.0),
    "wind_speed": (0.0, 75.0),
    "solar_radiation": (-50.0, 1500.0),
}
FORECAST_COLUMNS = (
    "date",
    "issued_at",
    "forecast",
    "low",
    "high",
    "method",
    "observed",
    "p_frost",
    "warning",
)


def parse_time(text: str) -> dt.datetime:
    """An ISO time as local wall-clock time; an offset, when given, is the local one."""
    value = dt.datetime.fromisoformat(text.strip())
    # With an offset the wall clock as written is the site's local time (e.g. +09:00 in Nagano).
    return value.replace(tzinfo=None)


def _number(text: str, column: str, where: str) -> float:
    """A reading, NaN when empty or NA; FrostError when it is not a plausible number."""
    if text.strip().lower() in MISSING_TEXT:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise FrostError(f"{where}: {column} is not a number: {text!r}") from None
    if math.isnan(value):
        return value
    low, high = LIMITS[column]
    if not low <= value <= high:
        raise FrostError(f"{where}: {column} {value} is outside {low}..{high}")
    return value


def read_weather(path: Path) -> HourlyWeather:
    """The hourly weather file as a grid; columns other than the documented ones are ignored."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in reader.fieldnames or ()]
            reader.fieldnames = header
            if TIME not in header or "air_temperature" not in header:
                raise FrostError(f"{path}: needs the columns time and air_temperature")
            present = tuple(c for c in SERIES if c in header)
            times: list[dt.datetime] = []
            values: dict[str, list[float]] = {c: [] for c in present}
            for line, row in enumerate(reader, start=2):
                where = f"{path}:{line}"
                try:
                    times.append(parse_time(row[TIME] or ""))
                except ValueError:
                    raise FrostError(f"{where}: time is not ISO 8601: {row[TIME]!r}") from None
                for c in present:
                    values[c].append(_number(row[c] or "", c, where))
    except OSError as exc:
        raise FrostError(f"{path}: cannot read ({exc})") from exc
    if not times:
        raise FrostError(f"{path}: no readings")
    return from_readings(times, values, present)


def write_weather(
    path: Path, times: Sequence[dt.datetime], columns: dict[str, Sequence[float]]
) -> Path:
    """Write an hourly weather file (NaN as empty) with the given columns."""
    names = [c for c in SERIES if c in columns]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([TIME, *names])
        for i, t in enumerate(times):
            cells = [_cell(float(columns[c][i])) for c in names]
            writer.writerow([t.isoformat(timespec="minutes"), *cells])
    return path


def _cell(value: float, digits: int = 2) -> str:
    """A number for a CSV cell; empty for NaN."""
    return "" if not math.isfinite(value) else f"{value:.{digits}f}"


def write_forecasts(path: Path, rows: Iterable[dict[str, object]]) -> int:
    """Write the nightly forecasts file; return the number of rows."""
    n = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        first = True
        for row in rows:
            if first:
                extra = [k for k in row if k not in FORECAST_COLUMNS]
                writer.writerow([*FORECAST_COLUMNS, *extra])
                first = False
            out = []
            for key in (*FORECAST_COLUMNS, *extra):
                value = row.get(key)
                out.append(_cell(value, 1) if isinstance(value, float) else str(value or ""))
            writer.writerow(out)
            n += 1
        if first:
            writer.writerow(FORECAST_COLUMNS)
    return n
