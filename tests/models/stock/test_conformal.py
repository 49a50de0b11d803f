"""Split-conformal margins: coverage of exchangeable cases, widening and narrowing."""

from __future__ import annotations

import numpy as np
import pytest

from models.stock.conformal import CalibrationError, conformity_scores, fit_margin, widen


def _intervals(rng: np.random.Generator, n: int, spread: float) -> tuple[np.ndarray, ...]:
    """Log-normal outcomes around a median, with intervals `spread` log units either side."""
    median = rng.uniform(5.0, 200.0, n)
    outcome = median * np.exp(0.3 * rng.standard_normal(n))
    return median * np.exp(-spread), median * np.exp(spread), outcome


@pytest.mark.parametrize("spread", [0.05, 0.2, 0.8])
def test_margin_brings_new_cases_to_the_target_coverage(spread: float) -> None:
    """Too narrow or too wide, the calibrated interval covers about 80 % of fresh cases."""
    rng = np.random.default_rng(7)
    low, high, y = _intervals(rng, 2_000, spread)
    margin = fit_margin(low, high, y, 0.8)
    low2, high2, y2 = _intervals(rng, 4_000, spread)
    bounds = np.array([widen(a, b, margin) for a, b in zip(low2, high2, strict=True)])
    covered = ((bounds[:, 0] <= y2) & (y2 <= bounds[:, 1])).mean()
    assert 0.77 <= covered <= 0.83


def test_scores_are_negative_inside_and_positive_outside() -> None:
    """An outcome inside its interval scores below zero, one outside above."""
    scores = conformity_scores([10.0, 10.0, 10.0], [20.0, 20.0, 20.0], [15.0, 5.0, 40.0])
    assert scores[0] < 0 < scores[1]
    assert scores[2] > 0


def test_narrowing_never_inverts_an_interval() -> None:
    """A large negative margin collapses the interval to a point, not past it."""
    low, high = widen(10.0, 12.0, -5.0)
    assert low <= high


def test_too_few_cases_are_refused() -> None:
    """Four cases cannot certify 80 % coverage."""
    with pytest.raises(CalibrationError):
        fit_margin([1.0] * 3, [2.0] * 3, [1.5] * 3, 0.8)
