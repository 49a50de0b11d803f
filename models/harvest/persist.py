"""The harvest model as plain data for skops: dicts, lists, numbers, arrays and estimators.

Only the yield regressors are objects (scikit-learn pipelines inside our `IntervalRegressor`);
everything else is rebuilt from numbers here, so a model file can hold nothing but the types in
`TRUSTED_TYPES` and a file naming any other type is refused when loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from models.harvest.baselines import GDD_BASE_C
from models.harvest.model import CropModel, HarvestForecaster
from models.harvest.phenology import ThermalTime
from models.harvest.seasonal import SeasonCorrection, ShareCorrection
from models.harvest.types import FieldWeather, HarvestModelError, PhenologyKind
from models.harvest.yields import IntervalRegressor
from models.registry import Codec

STATE_FORMAT = 2
# Beyond skops' own defaults (builtins, numpy arrays, most scikit-learn estimators): our
# conformal wrapper, the fitted trees of gradient boosting, and numpy dtypes of their arrays.
TRUSTED_TYPES: tuple[str, ...] = (
    "models.harvest.yields.IntervalRegressor",
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
)


def _phenology_state(p: ThermalTime | None) -> dict[str, Any] | None:
    """A phenology model as numbers."""
    if p is None:
        return None
    return {
        "kind": p.kind.value,
        "weight": float(p.weight),
        "base": float(p.base),
        "cap": float(p.cap),
        "threshold": float(p.threshold),
        "base2": float(p.base2),
        "threshold2": float(p.threshold2),
        "deadline_doy": None if p.deadline_doy is None else int(p.deadline_doy),
        "residuals": [float(r) for r in p.residuals],
    }


def _crop_state(c: CropModel) -> dict[str, Any]:
    """One crop's model as plain data; yield models as (share, regressor) pairs."""
    return {
        "crop": c.crop,
        "seasons": int(c.seasons),
        "mean_days": float(c.mean_days),
        "mean_yield": float(c.mean_yield),
        "median_yield": float(c.median_yield),
        "yield_range": [float(c.yield_range[0]), float(c.yield_range[1])],
        "length": int(c.length),
        "fields": list(c.fields),
        "phenology": _phenology_state(c.phenology),
        "gdd_threshold": float(c.gdd_threshold),
        "gdd_base": float(c.gdd_base),
        "yield_models": [[float(share), reg] for share, reg in sorted(c.yield_models.items())],
        "correction": None
        if c.correction is None
        else [
            [float(share), f.intercept, f.slope, f.low, f.high]
            for share, f in sorted(c.correction.shares.items())
        ],
    }


def encode(model: HarvestForecaster) -> dict[str, Any]:
    """The fitted forecaster as plain data."""
    if not hasattr(model, "crops_"):
        raise HarvestModelError("cannot save a harvest model that was not fitted")
    return {
        "format": STATE_FORMAT,
        "coverage": float(model.coverage),
        "min_yield_seasons": int(model.min_yield_seasons),
        "persistence": float(model.persistence_),
        "skipped": list(model.skipped_),
        "weather": [
            {"field_id": w.field_id, "first_day": int(w.first_day), "table": w.table()}
            for w in model.weather_.values()
        ],
        "crops": [_crop_state(c) for c in model.crops_.values()],
    }


def _phenology(state: Mapping[str, Any] | None) -> ThermalTime | None:
    """A phenology model from its numbers."""
    if state is None:
        return None
    deadline = state["deadline_doy"]
    return ThermalTime(
        kind=PhenologyKind(state["kind"]),
        weight=float(state["weight"]),
        base=float(state["base"]),
        cap=float(state["cap"]),
        threshold=float(state["threshold"]),
        base2=float(state["base2"]),
        threshold2=float(state["threshold2"]),
        deadline_doy=None if deadline is None else int(deadline),
        residuals=tuple(float(r) for r in state["residuals"]),
    )


def _crop(state: Mapping[str, Any]) -> CropModel:
    """One crop's model from plain data."""
    models: dict[float, IntervalRegressor] = {}
    for share, reg in state["yield_models"]:
        if not isinstance(reg, IntervalRegressor) or not hasattr(reg, "estimator_"):
            raise HarvestModelError(f"crop {state['crop']}: yield model is not a fitted regressor")
        models[float(share)] = reg
    low, high = state["yield_range"]
    return CropModel(
        crop=str(state["crop"]),
        seasons=int(state["seasons"]),
        mean_days=float(state["mean_days"]),
        mean_yield=float(state["mean_yield"]),
        median_yield=float(state["median_yield"]),
        yield_range=(float(low), float(high)),
        length=int(state["length"]),
        fields=[str(f) for f in state["fields"]],
        phenology=_phenology(state["phenology"]),
        gdd_threshold=float(state["gdd_threshold"]),
        # Models saved before the base was fitted used the fixed 10 °C rule.
        gdd_base=float(state.get("gdd_base", GDD_BASE_C)),
        yield_models=models,
        correction=_correction(state.get("correction")),
    )


def _correction(state: Any) -> SeasonCorrection | None:
    """The season-only correction from its numbers (None in models saved before it)."""
    if not state:
        return None
    return SeasonCorrection(
        {float(r[0]): ShareCorrection(*(float(v) for v in r[1:5])) for r in state}
    )


def _weather(state: Mapping[str, Any]) -> FieldWeather:
    """One field's daily weather from its table."""
    table = np.asarray(state["table"], dtype=np.float64)
    if table.ndim != 2 or table.shape[1] != 5:
        raise HarvestModelError(f"weather of {state['field_id']} is not a (days, 5) table")
    columns = (table[:, j].copy() for j in range(5))
    return FieldWeather(str(state["field_id"]), int(state["first_day"]), *columns)


def decode(state: Any) -> HarvestForecaster:
    """The forecaster from `encode`'s plain data; HarvestModelError if it is not one."""
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise HarvestModelError("not a harvest model of this version")
    try:
        model = HarvestForecaster(
            coverage=float(state["coverage"]), min_yield_seasons=int(state["min_yield_seasons"])
        )
        weather = [_weather(w) for w in state["weather"]]
        model.weather_ = {w.field_id: w for w in weather}
        model.skipped_ = [str(s) for s in state["skipped"]]
        model.persistence_ = float(state["persistence"])
        crops = [_crop(c) for c in state["crops"]]
        model.crops_ = {c.crop: c for c in crops}
    except (KeyError, TypeError, ValueError) as exc:
        raise HarvestModelError(f"not a harvest model of this version ({exc!r})") from exc
    return model


HARVEST_CODEC: Codec[HarvestForecaster] = Codec(encode, decode, TRUSTED_TYPES)
