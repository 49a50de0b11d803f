"""Harvest timing and yield forecasts from daily weather since planting."""

from models.harvest.api import fit_csv, load_model, predict_csv, save_model
from models.harvest.model import HarvestForecaster
from models.harvest.types import (
    ClimateSource,
    FieldWeather,
    HarvestDataError,
    HarvestError,
    HarvestModelError,
    HarvestPrediction,
    PredictionStatus,
    SeasonRecord,
)
from models.harvest.yields import IntervalRegressor

__all__ = [
    "ClimateSource",
    "FieldWeather",
    "HarvestDataError",
    "HarvestError",
    "HarvestForecaster",
    "HarvestModelError",
    "HarvestPrediction",
    "IntervalRegressor",
    "PredictionStatus",
    "SeasonRecord",
    "fit_csv",
    "load_model",
    "predict_csv",
    "save_model",
]
