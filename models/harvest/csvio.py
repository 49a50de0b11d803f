"""Reading and writing the harvest model's CSV files, with errors that name the file and line."""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Iterable, Sequence
from enum import StrEnum
from pathlib import Path

import numpy as np

from core.time import EPOCH_DATE as EPOCH
from models.harvest.types import FieldWeather, HarvestDataError, SeasonRecord


class WeatherColumn(StrEnum):
    """Columns of the daily weather file; soil_moisture is optional."""

    FIELD_ID = "field_id"
    DATE = "date"
    TMIN = "tmin"
    TMAX = "tmax"
    RADIATION = "radiation"
    RAIN = "rain"
    SOIL_MOISTURE = "soil_moisture"


class SeasonColumn(StrEnum):
    """Columns of the seasons file; maturity_date, yield and as_of are optional."""

    FIELD_ID = "field_id"
    CROP = "crop"
    PLANTING_DATE = "planting_date"
    MATURITY_DATE = "maturity_date"
    YIELD = "yield"
    AS_OF = "as_of"


REQUIRED_WEATHER = (
    WeatherColumn.FIELD_ID,
    WeatherColumn.DATE,
    WeatherColumn.TMIN,
    WeatherColumn.TMAX,
    WeatherColumn.RADIATION,
    WeatherColumn.RAIN,
)
REQUIRED_SEASONS = (SeasonColumn.FIELD_ID, SeasonColumn.CROP, SeasonColumn.PLANTING_DATE)
# Plausibility limits: values outside are typos or unit mistakes, not weather.
TEMPERATURE_RANGE = (-60.0, 60.0)
RADIATION_MAX = 50.0
RAIN_MAX = 1000.0


def to_day(text: str) -> int:
    """An ISO date (YYYY-MM-DD) as days since 1970-01-01."""
    return (dt.date.fromisoformat(text.strip()[:10]) - EPOCH).days


def from_day(day: int) -> str:
    """Days since 1970-01-01 as an ISO date."""
    return (EPOCH + dt.timedelta(days=int(day))).isoformat()


def _rows(path: Path, required: Sequence[str]) -> Iterable[tuple[int, dict[str, str]]]:
    """(line number, row) pairs of a CSV file whose header has the required columns."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise HarvestDataError(f"{path}: cannot open ({exc.strerror})") from exc
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = [h.strip() for h in reader.fieldnames or []]
            missing = [c for c in required if c not in header]
            if missing:
                raise HarvestDataError(
                    f"{path}: missing column(s) {', '.join(missing)}; header is {','.join(header)}"
                )
            reader.fieldnames = header
            for row in reader:
                yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}
        except (UnicodeDecodeError, csv.Error) as exc:
            raise HarvestDataError(f"{path}: not a UTF-8 CSV file ({exc})") from exc


def _number(path: Path, line: int, row: dict[str, str], column: str, *, optional: bool) -> float:
    """A float cell; NaN for an empty optional cell."""
    text = row.get(column, "")
    if text == "" or text.lower() in {"na", "nan"}:
        if optional:
            return math.nan
        raise HarvestDataError(f"{path}:{line}: {column} is empty")
    try:
        value = float(text)
    except ValueError as exc:
        raise HarvestDataError(f"{path}:{line}: {column}={text!r} is not a number") from exc
    if not math.isfinite(value):
        raise HarvestDataError(f"{path}:{line}: {column}={text!r} is not finite")
    return value


def _date(path: Path, line: int, row: dict[str, str], column: str) -> int | None:
    """A date cell as a day number, None when empty."""
    text = row.get(column, "")
    if not text:
        return None
    try:
        return to_day(text)
    except ValueError as exc:
        raise HarvestDataError(
            f"{path}:{line}: {column}={text!r} is not a YYYY-MM-DD date"
        ) from exc


def read_weather(path: Path) -> dict[str, FieldWeather]:
    """Daily weather per field; missing days are NaN, duplicate days are an error."""
    cells: dict[str, dict[int, tuple[float, ...]]] = {}
    for line, row in _rows(path, REQUIRED_WEATHER):
        field = row[WeatherColumn.FIELD_ID]
        if not field:
            raise HarvestDataError(f"{path}:{line}: field_id is empty")
        day = _date(path, line, row, WeatherColumn.DATE)
        if day is None:
            raise HarvestDataError(f"{path}:{line}: date is empty")
        tmin = _number(path, line, row, WeatherColumn.TMIN, optional=True)
        tmax = _number(path, line, row, WeatherColumn.TMAX, optional=True)
        for name, value in (("tmin", tmin), ("tmax", tmax)):
            if not math.isnan(value) and not TEMPERATURE_RANGE[0] <= value <= TEMPERATURE_RANGE[1]:
                raise HarvestDataError(f"{path}:{line}: {name}={value} °C is implausible")
        if not (math.isnan(tmin) or math.isnan(tmax)) and tmin > tmax:
            raise HarvestDataError(f"{path}:{line}: tmin {tmin} is above tmax {tmax}")
        rad = _number(path, line, row, WeatherColumn.RADIATION, optional=True)
        rain = _number(path, line, row, WeatherColumn.RAIN, optional=True)
        if not math.isnan(rad) and not 0.0 <= rad <= RADIATION_MAX:
            raise HarvestDataError(f"{path}:{line}: radiation={rad} MJ/m²/day is implausible")
        if not math.isnan(rain) and not 0.0 <= rain <= RAIN_MAX:
            raise HarvestDataError(f"{path}:{line}: rain={rain} mm is implausible")
        soil = _number(path, line, row, WeatherColumn.SOIL_MOISTURE, optional=True)
        per_field = cells.setdefault(field, {})
        if day in per_field:
            raise HarvestDataError(f"{path}:{line}: second row for {field} on {from_day(day)}")
        per_field[day] = (tmin, tmax, rad, rain, soil)
    if not cells:
        raise HarvestDataError(f"{path}: no weather rows")
    out: dict[str, FieldWeather] = {}
    for field, by_day in cells.items():
        first, last = min(by_day), max(by_day)
        table = np.full((last - first + 1, 5), np.nan)
        for day, values in by_day.items():
            table[day - first] = values
        out[field] = FieldWeather(field, first, *(table[:, j].copy() for j in range(5)))
    return out


def read_seasons(path: Path, *, need_truth: bool) -> list[SeasonRecord]:
    """Season rows; with `need_truth`, maturity_date and yield must be present and sensible."""
    out: list[SeasonRecord] = []
    for line, row in _rows(path, REQUIRED_SEASONS):
        field, crop = row[SeasonColumn.FIELD_ID], row[SeasonColumn.CROP].strip().lower()
        if not field or not crop:
            raise HarvestDataError(f"{path}:{line}: field_id and crop must not be empty")
        planting = _date(path, line, row, SeasonColumn.PLANTING_DATE)
        if planting is None:
            raise HarvestDataError(f"{path}:{line}: planting_date is empty")
        maturity = _date(path, line, row, SeasonColumn.MATURITY_DATE)
        value = _number(path, line, row, SeasonColumn.YIELD, optional=True)
        if need_truth and (maturity is None or math.isnan(value)):
            raise HarvestDataError(f"{path}:{line}: training needs maturity_date and yield")
        if maturity is not None and maturity <= planting:
            raise HarvestDataError(f"{path}:{line}: maturity_date is not after planting_date")
        if not math.isnan(value) and value < 0.0:
            raise HarvestDataError(f"{path}:{line}: yield={value} is negative")
        out.append(
            SeasonRecord(
                field_id=field,
                crop=crop,
                planting=planting,
                maturity=maturity,
                yield_value=None if math.isnan(value) else value,
                as_of=_date(path, line, row, SeasonColumn.AS_OF),
                line=line,
            )
        )
    if not out:
        raise HarvestDataError(f"{path}: no season rows")
    return out


def write_weather(path: Path, weather: Iterable[FieldWeather]) -> Path:
    """Write daily weather in the input format (soil_moisture only if any field has it)."""
    fields = list(weather)
    with_soil = any(np.isfinite(f.soil_moisture).any() for f in fields)
    columns = [c.value for c in REQUIRED_WEATHER]
    if with_soil:
        columns.append(WeatherColumn.SOIL_MOISTURE.value)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for f in fields:
            arrays = (f.tmin, f.tmax, f.radiation, f.rain, f.soil_moisture)
            for i in range(len(f.tmin)):
                values = [arrays[j][i] for j in range(5 if with_soil else 4)]
                if all(math.isnan(v) for v in values):
                    continue
                cells = ["" if math.isnan(v) else f"{v:.2f}" for v in values]
                writer.writerow([f.field_id, from_day(f.first_day + i), *cells])
    return path


def write_seasons(path: Path, seasons: Iterable[SeasonRecord]) -> Path:
    """Write season rows in the input format (with as_of when any row has one)."""
    rows = list(seasons)
    columns = [c.value for c in SeasonColumn if c is not SeasonColumn.AS_OF]
    with_as_of = any(r.as_of is not None for r in rows)
    if with_as_of:
        columns.append(SeasonColumn.AS_OF.value)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for r in rows:
            cells = [
                r.field_id,
                r.crop,
                from_day(r.planting),
                "" if r.maturity is None else from_day(r.maturity),
                "" if r.yield_value is None else f"{r.yield_value:.4f}",
            ]
            if with_as_of:
                cells.append("" if r.as_of is None else from_day(r.as_of))
            writer.writerow(cells)
    return path
