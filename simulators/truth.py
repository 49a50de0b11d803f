"""Ground truth of the simulations: injected anomalies, crop seasons and stand volumes, with CSV."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, fields
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

from models.forest.species import Species


class Crop(StrEnum):
    """Crops the farm simulator grows."""

    LETTUCE = "lettuce"
    APPLE = "apple"
    RICE = "rice"


class AnomalyKind(StrEnum):
    """Kinds of injected factory anomaly."""

    SHRINKAGE = "shrinkage"
    STUCK = "stuck"
    DRIFT = "drift"
    SPIKE = "spike"
    MISCOUNT = "miscount"
    RATE_CHANGE = "rate_change"
    # Load-cell behaviours of real weighing indicators (simulators.loadcell).
    DEAD_CELL = "dead_cell"
    PILFERAGE = "pilferage"
    TEMPERATURE_DRIFT = "temperature_drift"
    MISSING = "missing"


# The kinds the factory simulator itself injects, in the order its random plan draws them.
FACTORY_KINDS = (
    AnomalyKind.SHRINKAGE,
    AnomalyKind.STUCK,
    AnomalyKind.DRIFT,
    AnomalyKind.SPIKE,
    AnomalyKind.MISCOUNT,
    AnomalyKind.RATE_CHANGE,
)


@dataclass(frozen=True, slots=True)
class AnomalyEvent:
    """One injected anomaly: where, what, and the interval [start_ms, end_ms] it affects."""

    site: str
    bin: str
    sensor: str
    kind: AnomalyKind
    start_ms: int
    end_ms: int
    magnitude: float
    note: str = ""


@dataclass(frozen=True, slots=True)
class SeasonOutcome:
    """One crop season of one field: planting, maturity and yield."""

    site: str
    field: str
    crop: Crop
    year: int
    planted: dt.date
    maturity: dt.date
    days_to_maturity: int
    yield_t_ha: float
    water_stress: float
    heat_stress: float


@dataclass(frozen=True, slots=True)
class StandYear:
    """One stand at the end of one calendar year: volume and the year's increments."""

    site: str
    stand: str
    species: Species
    year: int
    age: int
    volume_m3_ha: float
    increment_m3_ha: float
    radial_increment_um: float


def _cell(value: Any) -> Any:
    """A CSV cell: enum values, ISO dates and rounded floats."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 4)
    return value


def write_csv(path: Path, record_type: type, records: Iterable[Any]) -> Path:
    """Write dataclass records of one type to `path` with a header row; return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([f.name for f in fields(record_type)])
        for record in records:
            writer.writerow([_cell(v) for v in astuple(record)])
    return path


def write_truth(
    directory: Path,
    anomalies: Sequence[AnomalyEvent] = (),
    seasons: Sequence[SeasonOutcome] = (),
    stands: Sequence[StandYear] = (),
) -> list[Path]:
    """Write one CSV per kind of truth (anomalies, seasons, stands) into `directory`."""
    return [
        write_csv(directory / "anomalies.csv", AnomalyEvent, anomalies),
        write_csv(directory / "seasons.csv", SeasonOutcome, seasons),
        write_csv(directory / "stands.csv", StandYear, stands),
    ]
