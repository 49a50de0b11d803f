"""Forest rotation: Faustmann optimum against the first-order condition, fits, estimator checks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.utils.estimator_checks import check_estimator

from evaluation.forest import evaluate_forest
from models.forest import (
    Economics,
    ForestModelError,
    GrowthCurve,
    faustmann_foc_rotation,
    faustmann_rotation,
    fit_growth,
    fit_growth_from_increments,
    lev,
    plan_rotation,
)
from models.forest.regressor import ChapmanRichardsRegressor

LARCH = GrowthCurve(500.0, 0.04, 2.5)
SUGI = GrowthCurve(1000.0, 0.03, 2.8)
RATES = (0.01, 0.02, 0.03, 0.05)


@pytest.mark.parametrize("curve", [LARCH, SUGI])
@pytest.mark.parametrize("rate", RATES)
def test_rotation_matches_first_order_condition(curve: GrowthCurve, rate: float) -> None:
    """The LEV maximiser is within a year of the root of the Faustmann-Pressler-Ohlin rule."""
    econ = Economics(rate=rate)
    assert abs(faustmann_rotation(curve, econ) - faustmann_foc_rotation(curve, econ)) < 1.0


def test_rotation_is_a_maximum_of_lev() -> None:
    """LEV is lower one year either side of the optimum."""
    econ = Economics(rate=0.02)
    t = faustmann_rotation(SUGI, econ)
    assert lev(SUGI, econ, t) > lev(SUGI, econ, t - 1.0)
    assert lev(SUGI, econ, t) > lev(SUGI, econ, t + 1.0)


@pytest.mark.parametrize("curve", [LARCH, SUGI])
def test_higher_discount_rate_shortens_rotation(curve: GrowthCurve) -> None:
    """Rotation falls strictly as the discount rate rises."""
    rotations = [faustmann_rotation(curve, Economics(rate=r)) for r in RATES]
    assert all(a > b for a, b in itertools.pairwise(rotations))


def test_higher_planting_cost_lengthens_rotation() -> None:
    """Costlier regeneration is postponed: a known comparative static of the Faustmann model."""
    cheap = faustmann_rotation(SUGI, Economics(planting_cost=0.0))
    dear = faustmann_rotation(SUGI, Economics(planting_cost=3_000_000.0))
    assert dear > cheap


def test_plan_has_thinnings_before_rotation() -> None:
    """Thinning ages are increasing, ahead of the current age and before the rotation."""
    plan = plan_rotation(SUGI, Economics(), current_age=10)
    assert plan.thinning_ages
    assert list(plan.thinning_ages) == sorted(plan.thinning_ages)
    assert min(plan.thinning_ages) >= 10
    assert max(plan.thinning_ages) < plan.rotation_age


def test_fit_recovers_curve_and_rotation() -> None:
    """Noisy inventory over ages 5-80 gives the rotation of the true curve within a year."""
    rng = np.random.default_rng(2)
    age = np.arange(5, 81, 5, dtype=float)
    volume = SUGI.volume(age) * np.exp(0.02 * rng.standard_normal(len(age)))
    fitted = fit_growth(age, volume)
    econ = Economics()
    assert abs(faustmann_rotation(fitted, econ) - faustmann_rotation(SUGI, econ)) < 1.0
    increments = np.diff(SUGI.volume(np.arange(20, 61, dtype=float)))
    from_growth = fit_growth_from_increments(np.arange(21, 61), increments, float(SUGI.volume(20)))
    np.testing.assert_allclose(from_growth.volume(70.0), SUGI.volume(70.0), rtol=0.02)


def test_bad_inputs_are_clear_errors() -> None:
    """Too little data and meaningless economics are refused with a reason."""
    with pytest.raises(ForestModelError, match="at least 3"):
        fit_growth([10, 20], [50, 90])
    with pytest.raises(ForestModelError, match="discount rate"):
        Economics(rate=0.0)


def test_held_out_simulated_stands() -> None:
    """On held-out simulated stands the curve forecasts volume within 2 % and beats MAI rotation."""
    score = evaluate_forest((901,))
    assert score.volume_mape < 0.02
    assert score.pooled_rotation_error_years < score.mai_rotation_error_years


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_chapman_richards_regressor_estimator_checks() -> None:
    """The regressor passes every scikit-learn estimator check."""
    results = check_estimator(ChapmanRichardsRegressor(), on_fail=None)
    failed = {r["check_name"] for r in results if r["status"] == "failed"}
    assert failed == set()
    model = ChapmanRichardsRegressor().fit(
        np.arange(5, 81, 5)[:, None], SUGI.volume(np.arange(5, 81, 5))
    )
    assert model.score(np.arange(5, 81, 5)[:, None], SUGI.volume(np.arange(5, 81, 5))) > 0.999
