"""The frost forecaster as plain data for skops, and its model directory (model + metadata).

Only scikit-learn estimators stay objects (the ridge pipeline and the boosters); the rest is
numbers and strings, so a model file holds nothing beyond skops' defaults and `TRUSTED_TYPES`,
and a file naming any other type is refused when loaded (see models/registry.py).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from models.frost.features import FEATURE_NAMES
from models.frost.forecaster import FrostForecaster, Method
from models.frost.hourly import FrostError
from models.frost.model import QuantileIntervalRegressor
from models.frost.physical import PhysicalRule
from models.registry import Codec, RegistryError, dump_state, load_state

STATE_FORMAT = 2  # 2: one regressor and one warning threshold p* per issue hour
MODEL_FILE = "model.skops"
META_FILE = "meta.json"
# Beyond skops' defaults: the fitted trees of histogram gradient boosting and numpy dtypes.
TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)
REGRESSOR_PARAMS = (
    "coverage",
    "cv",
    "max_iter",
    "learning_rate",
    "max_leaf_nodes",
    "min_samples_leaf",
    "random_state",
    "linear_base",
)


def _regressor_state(reg: QuantileIntervalRegressor | None) -> dict[str, Any] | None:
    """A fitted regressor as its parameters, estimators and numbers."""
    if reg is None:
        return None
    return {
        "params": {k: getattr(reg, k) for k in REGRESSOR_PARAMS},
        "features": [int(j) for j in reg.features_],
        "base": reg.base_,
        "boosters": list(reg.estimators_),
        "correction": float(reg.correction_),
        "cv_mae": float(reg.cv_mae_),
        "cv_coverage": float(reg.cv_coverage_),
        "n_features": int(reg.n_features_in_),
    }


def encode(model: FrostForecaster) -> dict[str, Any]:
    """The fitted forecaster as plain data."""
    if not hasattr(model, "method_"):
        raise FrostError("cannot save a frost model that was not fitted")
    rule = model.rule_
    return {
        "format": STATE_FORMAT,
        "issue_hours": list(model.issue_hours_),
        "morning_hour": int(model.morning_hour),
        "coverage": float(model.coverage),
        "min_nights": int(model.min_nights),
        "warn_recall": float(model.warn_recall),
        "method": model.method_.value,
        "nights": int(model.nights_),
        "first_date": model.first_date_.isoformat(),
        "last_date": model.last_date_.isoformat(),
        "columns": list(model.columns_),
        "features": list(FEATURE_NAMES),
        "rule": {"k": rule.k, "low": rule.low, "high": rule.high, "nights": rule.nights},
        "metrics": {k: float(v) for k, v in model.metrics_.items()},
        "regressors": {str(h): _regressor_state(r) for h, r in model.regressors_.items()},
        "p_star": {str(h): float(p) for h, p in model.p_star_.items()},
    }


def _regressor(state: dict[str, Any] | None) -> QuantileIntervalRegressor | None:
    """A fitted regressor from its plain data."""
    if state is None:
        return None
    reg = QuantileIntervalRegressor(**state["params"])
    reg.features_ = np.asarray(state["features"], dtype=np.int64)
    reg.base_ = state["base"]
    reg.estimators_ = list(state["boosters"])
    reg.correction_ = float(state["correction"])
    reg.cv_mae_ = float(state["cv_mae"])
    reg.cv_coverage_ = float(state["cv_coverage"])
    reg.n_features_in_ = int(state["n_features"])
    if len(reg.estimators_) != 3:
        raise FrostError("a frost model needs three quantile boosters")
    reg.n_iter_ = max(int(m.n_iter_) for m in reg.estimators_)
    return reg


def decode(state: Any) -> FrostForecaster:
    """The forecaster from `encode`'s plain data; FrostError if it is not one."""
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise FrostError("not a frost model of this version")
    if state.get("features") != list(FEATURE_NAMES):
        # The boosters read features by position: another version's would read them wrongly.
        raise FrostError(
            "this frost model was trained on the features of another version: fit it again"
        )
    try:
        model = FrostForecaster(
            issue_hours=tuple(int(h) for h in state["issue_hours"]),
            morning_hour=int(state["morning_hour"]),
            coverage=float(state["coverage"]),
            min_nights=int(state["min_nights"]),
            warn_recall=float(state["warn_recall"]),
        )
        model.issue_hours_ = model.issue_hours
        model.method_ = Method(state["method"])
        model.nights_ = int(state["nights"])
        model.first_date_ = dt.date.fromisoformat(state["first_date"])
        model.last_date_ = dt.date.fromisoformat(state["last_date"])
        model.columns_ = tuple(str(c) for c in state["columns"])
        model.rule_ = PhysicalRule(**state["rule"])
        model.metrics_ = {str(k): float(v) for k, v in state["metrics"].items()}
        regressors = {int(h): _regressor(r) for h, r in state["regressors"].items()}
        model.regressors_ = {h: r for h, r in regressors.items() if r is not None}
        model.p_star_ = {int(h): float(p) for h, p in state["p_star"].items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise FrostError(f"not a frost model of this version ({exc!r})") from exc
    return model


FROST_CODEC: Codec[FrostForecaster] = Codec(encode, decode, TRUSTED_TYPES)


def _json_number(value: float) -> float | None:
    """A metric for JSON: NaN becomes null."""
    return round(value, 4) if math.isfinite(value) else None


def metadata(model: FrostForecaster) -> dict[str, object]:
    """What people reading the model directory want: window, method, rule and metrics."""
    state = encode(model)
    return {
        "format": STATE_FORMAT,
        "storage": "skops (types checked against a trusted list when loaded)",
        "method": state["method"],
        "training_window": {
            "first_night": state["first_date"],
            "last_night": state["last_date"],
            "nights": state["nights"],
        },
        "issue_hours": state["issue_hours"],
        "morning_hour": state["morning_hour"],
        "coverage": state["coverage"],
        "min_nights": state["min_nights"],
        "columns": state["columns"],
        "physical_rule": {
            "formula": "Craddock & Pritchard (1951): 0.316 T12 + 0.548 Td12 - 1.24 + K",
            "k": _json_number(state["rule"]["k"]),
            "low": _json_number(state["rule"]["low"]),
            "high": _json_number(state["rule"]["high"]),
            "nights": int(state["rule"]["nights"]),
        },
        "metrics": {k: _json_number(v) for k, v in state["metrics"].items()},
        "frost_warning": {
            "rule": "warn when P(minimum <= 0 °C) >= p* of the issue hour",
            "p_star": {h: round(p, 4) for h, p in state["p_star"].items()},
            "p_star_note": "chosen on out-of-fold forecasts of the training nights for recall "
            f">= {model.warn_recall:g} with the fewest warnings; default when too few frost nights",
        },
        "metrics_note": "model_cv_*: out-of-fold over contiguous blocks of the training nights; "
        "persistence_mae and rule_mae_in_sample on the same nights (the rule's K is fitted there)",
    }


def save_model(model: FrostForecaster, directory: Path) -> Path:
    """Write the model (skops) and its metadata (JSON) into `directory`."""
    state = FROST_CODEC.encode(model)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        dump_state(state, directory / MODEL_FILE)
        (directory / META_FILE).write_text(
            json.dumps(metadata(model), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    except OSError as exc:
        raise FrostError(f"{directory}: cannot write the model ({exc})") from exc
    return directory


def load_model(directory: Path) -> FrostForecaster:
    """Read a model written by `save_model`; a file naming an untrusted type is refused."""
    path = directory / MODEL_FILE
    if not path.exists():
        raise FrostError(f"{path}: no model here (run fit first)")
    try:
        state = load_state(path, FROST_CODEC.trusted)
    except RegistryError as exc:
        raise FrostError(str(exc)) from exc
    return FROST_CODEC.decode(state)
