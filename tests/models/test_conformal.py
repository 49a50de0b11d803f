"""The split-conformal quantile and the harvest intervals built on it."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsRegressor

from models.conformal import CalibrationError, conformal_quantile
from models.harvest.seasonal import fit_share
from models.harvest.yields import IntervalRegressor


def test_the_quantile_is_the_finite_sample_rank() -> None:
    """Of 9 scores at 80 %, the ⌈10 · 0.8⌉ = 8th smallest; too few cases give the largest, or an
    error when asked to be strict."""
    assert conformal_quantile([9, 1, 8, 2, 7, 3, 6, 4, 5], 0.8) == 8.0
    assert conformal_quantile([3.0, 1.0, 2.0], 0.8) == 3.0
    with pytest.raises(CalibrationError):
        conformal_quantile([3.0, 1.0, 2.0], 0.8, strict=True)
    with pytest.raises(CalibrationError):
        conformal_quantile([], 0.8)


def test_absolute_residual_intervals_cover_new_cases_at_the_level() -> None:
    """Width from 30 residuals, repeated over many draws: on average 80-84 % of fresh cases
    fall within ± that width, as split conformal promises for exchangeable cases."""
    rng = np.random.default_rng(3)
    cover = [
        np.mean(np.abs(rng.standard_normal(200)) <= conformal_quantile(np.abs(r), 0.8))
        for r in rng.standard_normal((400, 30))
    ]
    assert 0.80 <= float(np.mean(cover)) <= 0.85


def test_a_year_is_left_out_whole() -> None:
    """Two seasons of each year with the same weather and outcome: a nearest-neighbour model
    cross-validated by season mostly finds the sibling and claims little error; by year it
    shows its real error, and the interval is as wide as that."""
    rng = np.random.default_rng(5)
    x = np.repeat(rng.normal(size=(12, 2)), 2, axis=0)
    y = np.repeat(rng.normal(size=12), 2)
    years = np.repeat(np.arange(1990, 2002), 2)
    model = KNeighborsRegressor(n_neighbors=1)
    by_season = IntervalRegressor(estimator=model).fit(x, y)
    by_year = IntervalRegressor(estimator=model).fit(x, y, groups=years)
    assert by_year.cv_mae_ > 3 * by_season.cv_mae_
    assert by_year.residual_high_ > 2 * by_season.residual_high_
    assert by_year.residual_low_ == -by_year.residual_high_


def test_the_season_correction_leaves_each_year_out() -> None:
    """The correction's bounds come from residuals of lines fitted without the season's year:
    a year whose two seasons miss far widens the bounds that much."""
    anomaly = np.zeros(24)
    residuals = np.zeros(24)
    residuals[[0, 1]] = 10.0
    residuals[2:] = np.tile([1.0, -1.0], 11)
    years = np.repeat(np.arange(12), 2)
    fix = fit_share(residuals, anomaly, 0.8, years)
    # The intercept is the mean residual, and ± the 20th smallest held-out miss of 24.
    assert fix.intercept == pytest.approx(residuals.mean())
    others = [(residuals.sum() - residuals[years == k].sum()) / 22 for k in years]
    held = np.abs(residuals - np.array(others))
    assert fix.high == pytest.approx(np.sort(held)[19]) and fix.low == -fix.high
