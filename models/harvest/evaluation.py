"""Scores of the harvest forecaster on seasons with known truth, against both baselines.

The seasons come from the store (training's hold-out) or from simulated farms
(`evaluation.harvest`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from models.harvest.model import HarvestForecaster
from models.harvest.predict import predict_all
from models.harvest.types import (
    FieldWeather,
    HarvestPrediction,
    PredictionStatus,
    SeasonRecord,
)


@dataclass(frozen=True, slots=True)
class HarvestScore:
    """Errors at one share of the season known: model against the baselines."""

    share: float
    cases: int
    maturity_mae: float
    gdd_maturity_mae: float
    clim_maturity_mae: float
    maturity_coverage: float
    yield_mae: float
    clim_yield_mae: float
    yield_coverage: float


def season_lengths(model: HarvestForecaster) -> dict[str, float]:
    """Mean days from planting to maturity of each crop in the model's training seasons."""
    return {name: crop.mean_days for name, crop in model.crops_.items()}


def as_of_share(
    seasons: list[SeasonRecord], share: float, lengths: Mapping[str, float]
) -> list[SeasonRecord]:
    """Seasons with as_of set `share` of the crop's usual length after planting.

    The usual length comes from seasons known before (`season_lengths` of the model being
    scored), never from the season's own maturity: a forecaster does not know how far through
    the season it is, and an as-of placed by the outcome would tell it. Seasons of a crop
    without a known length are left out.
    """
    return [
        replace(s, as_of=s.planting + round(share * lengths[s.crop]))
        for s in seasons
        if s.crop in lengths
    ]


def score(
    model: HarvestForecaster,
    weather: dict[str, FieldWeather],
    seasons: list[SeasonRecord],
    share: float,
) -> HarvestScore:
    """Score the model on seasons with known truth, with weather up to `share` of each crop's
    usual season length (from the model's training seasons) after planting."""
    rows = as_of_share(seasons, share, season_lengths(model))
    return summarize(predict_all(model, weather, rows, None), share)


def summarize(predictions: list[HarvestPrediction], share: float) -> HarvestScore:
    """Errors and interval coverage of predictions whose seasons carry the truth."""
    preds = [p for p in predictions if p.status is PredictionStatus.OK]
    truth_m = np.array([p.season.maturity for p in preds], dtype=np.float64)
    truth_y = np.array([p.season.yield_value for p in preds], dtype=np.float64)

    def col(name: str) -> np.ndarray:
        """One attribute of every prediction as an array."""
        return np.array([getattr(p, name) for p in preds], dtype=np.float64)

    return HarvestScore(
        share=share,
        cases=len(preds),
        maturity_mae=float(np.mean(np.abs(col("maturity") - truth_m))),
        gdd_maturity_mae=float(np.mean(np.abs(col("baseline_gdd_maturity") - truth_m))),
        clim_maturity_mae=float(np.mean(np.abs(col("baseline_clim_maturity") - truth_m))),
        maturity_coverage=float(
            np.mean((col("maturity_low") <= truth_m) & (truth_m <= col("maturity_high")))
        ),
        yield_mae=float(np.mean(np.abs(col("yield_value") - truth_y))),
        clim_yield_mae=float(np.mean(np.abs(col("baseline_clim_yield") - truth_y))),
        yield_coverage=float(
            np.mean((col("yield_low") <= truth_y) & (truth_y <= col("yield_high")))
        ),
    )
