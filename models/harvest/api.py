"""File-level API: fit from two CSV files into a model directory, predict into a CSV file."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict
from pathlib import Path

from models.harvest.csvio import from_day, read_seasons, read_weather, to_day
from models.harvest.model import HarvestForecaster
from models.harvest.persist import HARVEST_CODEC, STATE_FORMAT
from models.harvest.predict import predict_all
from models.harvest.types import HarvestModelError, HarvestPrediction
from models.registry import RegistryError, dump_state, load_state

FORMAT_VERSION = STATE_FORMAT
MODEL_FILE = "model.skops"
# Written by format 1; pickles are no longer read (loading one can run arbitrary code).
LEGACY_MODEL_FILE = "model.pkl"
SUMMARY_FILE = "summary.json"
PREDICTION_COLUMNS = (
    "field_id",
    "crop",
    "planting_date",
    "as_of",
    "status",
    "climate_source",
    "days_known",
    "maturity_date",
    "maturity_p10",
    "maturity_p90",
    "days_to_maturity",
    "yield",
    "yield_p10",
    "yield_p90",
    "harvest_window_start",
    "harvest_window_end",
    "baseline_gdd_maturity_date",
    "baseline_clim_maturity_date",
    "baseline_clim_yield",
    "message",
    "fallback",
)


def save_model(model: HarvestForecaster, directory: Path) -> Path:
    """Write the model (skops) and a human-readable summary into `directory`."""
    state = HARVEST_CODEC.encode(model)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        dump_state(state, directory / MODEL_FILE)
        (directory / SUMMARY_FILE).write_text(
            json.dumps(summary(model), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    except OSError as exc:
        raise HarvestModelError(f"{directory}: cannot write the model ({exc})") from exc
    return directory


def load_model(directory: Path) -> HarvestForecaster:
    """Read a model written by `save_model`; a file naming an untrusted type is refused."""
    path = directory / MODEL_FILE
    if not path.exists():
        if (directory / LEGACY_MODEL_FILE).exists():
            raise HarvestModelError(
                f"{directory}: holds an older pickled model, which is not loaded; run fit again"
            )
        raise HarvestModelError(f"{path}: no model here (run fit first)")
    try:
        state = load_state(path, HARVEST_CODEC.trusted)
    except RegistryError as exc:
        raise HarvestModelError(str(exc)) from exc
    return HARVEST_CODEC.decode(state)


def summary(model: HarvestForecaster) -> dict[str, object]:
    """Per-crop parameters and sizes, for people reading the model directory."""
    crops: dict[str, object] = {}
    for name, crop in model.crops_.items():
        pheno = None
        if crop.phenology is not None:
            pheno = {k: v for k, v in asdict(crop.phenology).items() if k != "residuals"}
            pheno["mae_days_in_sample"] = (
                sum(abs(r) for r in crop.phenology.residuals) / len(crop.phenology.residuals)
                if crop.phenology.residuals
                else None
            )
        crops[name] = {
            "seasons": crop.seasons,
            "fields": crop.fields,
            "mean_days_to_maturity": round(crop.mean_days, 2),
            "mean_yield": round(crop.mean_yield, 4),
            "phenology": pheno,
            "yield_models": {
                str(share): {
                    "estimator": type(reg.estimator_).__name__,
                    "cv_mae_log": round(reg.cv_mae_, 4),
                }
                for share, reg in crop.yield_models.items()
            },
        }
    return {"version": FORMAT_VERSION, "crops": crops, "skipped_seasons": model.skipped_}


def fit_csv(weather_csv: Path, seasons_csv: Path, out_dir: Path) -> HarvestForecaster:
    """Train from the weather and seasons files and save the model into `out_dir`."""
    weather = read_weather(weather_csv)
    seasons = read_seasons(seasons_csv, need_truth=True)
    model = HarvestForecaster().fit(weather, seasons)
    save_model(model, out_dir)
    return model


def predict_csv(
    model_dir: Path, weather_csv: Path, seasons_csv: Path, as_of: str | None, out_csv: Path
) -> list[HarvestPrediction]:
    """Forecast the seasons file with weather up to the as-of date; write one row per season."""
    model = load_model(model_dir)
    weather = read_weather(weather_csv)
    seasons = read_seasons(seasons_csv, need_truth=False)
    try:
        when = None if as_of is None else to_day(as_of)
    except ValueError as exc:
        raise HarvestModelError(f"--as-of {as_of!r} is not a YYYY-MM-DD date") from exc
    predictions = predict_all(model, weather, seasons, when)
    write_predictions(out_csv, predictions)
    return predictions


def _day(value: float) -> str:
    """A fractional day number as an ISO date, '' for NaN."""
    return "" if math.isnan(value) else from_day(round(value))


def _num(value: float, digits: int = 3) -> str:
    """A number cell, '' for NaN."""
    return "" if math.isnan(value) else f"{value:.{digits}f}"


def write_predictions(path: Path, predictions: list[HarvestPrediction]) -> Path:
    """Write predictions with the documented columns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(PREDICTION_COLUMNS)
        for p in predictions:
            s = p.season
            days = p.maturity - s.planting if not math.isnan(p.maturity) else math.nan
            writer.writerow(
                [
                    s.field_id,
                    s.crop,
                    from_day(s.planting),
                    from_day(p.as_of),
                    p.status.value,
                    "" if p.climate_source is None else p.climate_source.value,
                    p.days_known,
                    _day(p.maturity),
                    _day(p.maturity_low),
                    _day(p.maturity_high),
                    _num(days, 0),
                    _num(p.yield_value),
                    _num(p.yield_low),
                    _num(p.yield_high),
                    _day(p.window_start),
                    _day(p.window_end),
                    _day(p.baseline_gdd_maturity),
                    _day(p.baseline_clim_maturity),
                    _num(p.baseline_clim_yield),
                    p.message,
                    p.fallback,
                ]
            )
    return path
