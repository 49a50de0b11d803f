"""The model directory: skops round trip, refusal of foreign files, and the estimator contract."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import check_estimator

from models.frost.forecaster import FrostForecaster
from models.frost.hourly import FrostError, HourlyWeather
from models.frost.model import QuantileIntervalRegressor
from models.frost.persist import META_FILE, MODEL_FILE, decode, encode, load_model, save_model


def test_saved_model_predicts_the_same(tmp_path: Path, train_site: HourlyWeather) -> None:
    """Reloaded from skops, the forecaster gives identical forecasts; meta.json has its window."""
    model = FrostForecaster().fit(train_site)
    save_model(model, tmp_path)
    again = load_model(tmp_path)
    before = model.predict_nights(train_site)
    after = again.predict_nights(train_site)
    assert [(f.forecast, f.low, f.high, f.method) for f in before] == [
        (f.forecast, f.low, f.high, f.method) for f in after
    ]
    meta = json.loads((tmp_path / META_FILE).read_text(encoding="utf-8"))
    assert meta["training_window"]["first_night"] == str(model.first_date_)
    assert meta["training_window"]["last_night"] == str(model.last_date_)
    assert meta["issue_hours"] == [15, 21]


def test_a_file_that_is_not_a_frost_model_is_refused(tmp_path: Path) -> None:
    """No model, or a damaged one: FrostError, nothing executed."""
    with pytest.raises(FrostError, match="run fit first"):
        load_model(tmp_path)
    (tmp_path / MODEL_FILE).write_bytes(b"not a zip")
    with pytest.raises(FrostError):
        load_model(tmp_path)


def test_quantile_regressor_follows_the_estimator_contract() -> None:
    """scikit-learn's own checks pass (small boosters to keep them quick)."""
    check_estimator(QuantileIntervalRegressor(max_iter=10, cv=3, min_samples_leaf=2))


def test_quantile_regressor_interval_brackets_and_covers() -> None:
    """On noisy linear data with gaps, about 80 % of new targets fall inside the interval."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1200, 3))
    y = 2.0 * x[:, 0] - x[:, 1] + rng.normal(scale=1.0, size=1200)
    x[rng.random(x.shape) < 0.1] = np.nan
    reg = clone(QuantileIntervalRegressor()).fit(x[:800], y[:800])
    low, high = reg.predict_interval(x[800:])
    mid = reg.predict(x[800:])
    assert np.all((low <= mid) & (mid <= high))
    inside = np.mean((y[800:] >= low) & (y[800:] <= high))
    assert 0.72 <= inside <= 0.88
    assert reg.cv_coverage_ == pytest.approx(0.8, abs=0.03)


def test_a_model_trained_on_another_versions_features_is_refused(
    train_site: HourlyWeather,
) -> None:
    """The boosters read features by position: a model saved with other features (an earlier
    version's) is refused with a reason, not run on the wrong columns."""
    model = FrostForecaster(issue_hours=(15,)).fit(train_site)
    state = encode(model)
    assert decode(state).predict_nights(train_site)  # the state as saved loads
    state["features"] = state["features"][:-3]
    with pytest.raises(FrostError, match="fit it again"):
        decode(state)
