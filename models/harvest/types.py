"""Shared records, enums and errors of the harvest model."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from models.errors import ModelError

# The harvest model's name in the model registry.
MODEL_NAME = "harvest"

FloatArray = npt.NDArray[np.float64]


class HarvestError(ModelError):
    """Base of the harvest model's errors."""


class HarvestDataError(HarvestError, ValueError):
    """An input file or row the harvest model cannot use."""


class HarvestModelError(HarvestError):
    """A model directory that cannot be written, read or used."""


class PredictionStatus(StrEnum):
    """How a prediction row was made."""

    OK = "ok"
    CROP_FALLBACK = "crop_fallback"  # too few training seasons: climatology of the crop
    UNKNOWN_CROP = "unknown_crop"
    NO_WEATHER = "no_weather"


class ClimateSource(StrEnum):
    """Where the weather assumed after the as-of date comes from."""

    FIELD = "field"  # the field's own training years
    FIELD_HISTORY = "field_history"  # the field's earlier years in the prediction weather file
    POOLED = "pooled"  # training years of all fields with the same crop, or all fields


class PhenologyKind(StrEnum):
    """Shape of a crop's thermal-time model."""

    ONE_PHASE = "one_phase"
    TWO_PHASE = "two_phase"


@dataclass(frozen=True, slots=True, eq=False)
class FieldWeather:
    """Daily weather of one field from `first_day` (days since 1970-01-01); NaN = missing."""

    field_id: str
    first_day: int
    tmin: FloatArray
    tmax: FloatArray
    radiation: FloatArray
    rain: FloatArray
    soil_moisture: FloatArray

    @property
    def last_day(self) -> int:
        """The last day covered."""
        return self.first_day + len(self.tmin) - 1

    def until(self, last_day: int) -> FieldWeather | None:
        """A copy up to and including `last_day`, None if nothing is left."""
        n = last_day - self.first_day + 1
        if n <= 0:
            return None
        return FieldWeather(
            self.field_id,
            self.first_day,
            *(a[:n].copy() for a in (self.tmin, self.tmax, self.radiation, self.rain)),
            self.soil_moisture[:n].copy(),
        )

    def table(self) -> FloatArray:
        """The five daily variables as columns (tmin, tmax, radiation, rain, soil_moisture)."""
        return np.column_stack(
            [self.tmin, self.tmax, self.radiation, self.rain, self.soil_moisture]
        )


@dataclass(frozen=True, slots=True)
class SeasonRecord:
    """One season row: planting (day number), optional truth and optional as-of day."""

    field_id: str
    crop: str
    planting: int
    maturity: int | None = None
    yield_value: float | None = None
    as_of: int | None = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class HarvestPrediction:
    """Maturity (day numbers) and yield with 80 % style intervals, plus baselines."""

    season: SeasonRecord
    as_of: int
    status: PredictionStatus
    climate_source: ClimateSource | None = None
    days_known: int = 0
    maturity: float = float("nan")
    maturity_low: float = float("nan")
    maturity_high: float = float("nan")
    yield_value: float = float("nan")
    yield_low: float = float("nan")
    yield_high: float = float("nan")
    window_start: float = float("nan")
    window_end: float = float("nan")
    baseline_gdd_maturity: float = float("nan")
    baseline_clim_maturity: float = float("nan")
    baseline_clim_yield: float = float("nan")
    message: str = ""
    # Why a simpler forecast was made (empty when the full model ran): users must see it.
    fallback: str = ""
