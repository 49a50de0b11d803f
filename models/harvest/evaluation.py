"""Scores of the harvest forecaster on seasons with known truth, against both baselines.

The seasons come from the store (training's hold-out) or from simulated farms
(`evaluation.harvest`).
"""

from __future__ import annotations

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


def as_of_share(seasons: list[SeasonRecord], share: float) -> list[SeasonRecord]:
    """Seasons with as_of set to `share` of their true length after planting."""
    out = []
    for s in seasons:
        assert s.maturity is not None
        as_of = s.planting + round(share * (s.maturity - s.planting))
        out.append(replace(s, as_of=as_of))
    return out


def score(
    model: HarvestForecaster,
    weather: dict[str, FieldWeather],
    seasons: list[SeasonRecord],
    share: float,
) -> HarvestScore:
    """Score the model on seasons with known truth, with weather up to `share` of each season."""
    return summarize(predict_all(model, weather, as_of_share(seasons, share), None), share)


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
