"""Harvest timing and yield forecasts from daily weather since planting.

The public names load on first use (PEP 562): the web API imports the light submodules
(types, weather, growing degree days) for every request, scikit-learn only when it forecasts.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "fit_csv": "api",
    "load_model": "api",
    "predict_csv": "api",
    "save_model": "api",
    "HarvestForecaster": "model",
    "IntervalRegressor": "yields",
    **dict.fromkeys(
        (
            "ClimateSource",
            "FieldWeather",
            "HarvestDataError",
            "HarvestError",
            "HarvestModelError",
            "HarvestPrediction",
            "PredictionStatus",
            "SeasonRecord",
        ),
        "types",
    ),
}

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


def __getattr__(name: str) -> Any:
    """Import the submodule that defines `name` when it is first asked for."""
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
