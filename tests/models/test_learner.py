"""One learner contract: online models share `learn_one` / `score_one`; batch ones `fit`."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from models.anomaly import StreamingDetector
from models.forest.regressor import ChapmanRichardsRegressor
from models.learner import OnlineDetector, OnlineLearner
from models.stock.anomaly import BinAnomalyDetector
from models.stock.stockout import StockoutForecaster

STEP_MS = 600_000


def test_online_models_share_the_contract_and_batch_ones_do_not() -> None:
    """Detectors are OnlineDetectors, the forecaster an OnlineLearner, estimators neither."""
    assert isinstance(StreamingDetector(), OnlineDetector)
    assert isinstance(BinAnomalyDetector(), OnlineDetector)
    assert isinstance(StockoutForecaster(), OnlineLearner)
    assert not isinstance(StockoutForecaster(), OnlineDetector)
    regressor = ChapmanRichardsRegressor()
    assert isinstance(regressor, BaseEstimator)
    assert not isinstance(regressor, OnlineLearner)


def test_learn_one_learns_what_score_one_would() -> None:
    """Learning a warm-up without verdicts leaves the detector as scoring it would have."""
    rng = np.random.default_rng(3)
    values = np.sin(np.arange(2_000) / 20.0) + rng.normal(0.0, 0.05, 2_000)
    values[1_500:1_520] += 3.0
    learnt, scored = StreamingDetector(), StreamingDetector()
    for i, v in enumerate(values[:1_000]):
        learnt.learn_one(i * STEP_MS, float(v))
        scored.score_one(i * STEP_MS, float(v))
    tail = list(enumerate(values))[1_000:]
    assert [learnt.score_one(i * STEP_MS, float(v)) for i, v in tail] == [
        scored.score_one(i * STEP_MS, float(v)) for i, v in tail
    ]


def test_bin_detector_update_is_score_one() -> None:
    """The older `update` name gives the same alerts as `score_one`."""
    rng = np.random.default_rng(5)
    count = np.maximum(200 - np.arange(600) // 3, 0).astype(float)
    weight = count * 0.5 + rng.normal(0.0, 0.05, 600)
    weight[400:] -= 10.0  # 20 items' worth gone without the count moving: a drop
    old, new = BinAnomalyDetector(), BinAnomalyDetector()
    by_update = [a for i in range(600) for a in old.update(i * STEP_MS, weight[i], count[i])]
    by_score = [a for i in range(600) for a in new.score_one(i * STEP_MS, weight[i], count[i])]
    assert by_update == by_score
    assert by_score
