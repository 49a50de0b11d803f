"""The Chapman–Richards growth curve as a scikit-learn regressor (age → stand volume).

Kept apart from `models.forest.growth` so that the curve and rotation arithmetic load without
scikit-learn (the web API computes rotations; only training and evaluation need estimators).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import Tags
from sklearn.utils.validation import check_is_fitted, validate_data

from models.forest.growth import FloatArray, ForestModelError, GrowthCurve, fit_growth


class ChapmanRichardsRegressor(RegressorMixin, BaseEstimator):
    """Stand volume from age with a fitted Chapman–Richards curve; other X columns are ignored."""

    def __sklearn_tags__(self) -> Tags:
        """scikit-learn's own flag for a model that cannot fit its generic test data.

        The checks score regressors on a target built from ten random columns; a growth
        curve reads the age column only, so it is not expected to learn that target.
        """
        tags = super().__sklearn_tags__()
        assert tags.regressor_tags is not None
        tags.regressor_tags.poor_score = True
        return tags

    def __init__(self, age_column: int = 0, max_asymptote_ratio: float = 50.0) -> None:
        """Store which column of X holds the age and the bound on A relative to max volume."""
        self.age_column = age_column
        self.max_asymptote_ratio = max_asymptote_ratio

    def fit(self, X: npt.ArrayLike, y: npt.ArrayLike) -> ChapmanRichardsRegressor:  # noqa: N803
        """Fit the curve to ages in X[:, age_column] and volumes y."""
        X, y = validate_data(self, X, y, y_numeric=True)  # noqa: N806
        if not 0 <= self.age_column < X.shape[1]:
            raise ValueError(f"age_column {self.age_column} is not a column of X ({X.shape[1]})")
        t = X[:, self.age_column]
        # Shift so that the youngest observation sits at age 0: keeps the curve defined on
        # arbitrary inputs while real inventory (ages >= 0) is fitted unchanged.
        self.age_offset_ = float(min(t.min(), 0.0))
        v = np.asarray(y, dtype=np.float64)
        self.volume_offset_ = float(min(v.min(), 0.0))
        try:
            self.curve_ = fit_growth(
                t - self.age_offset_, v - self.volume_offset_, self.max_asymptote_ratio
            )
        except ForestModelError:
            # Degenerate data (e.g. constant ages): a flat curve at the mean volume.
            mean = float(np.mean(v - self.volume_offset_))
            self.curve_ = GrowthCurve(max(mean, 1e-6), 1.0, 0.5)
        return self

    def predict(self, X: npt.ArrayLike) -> FloatArray:  # noqa: N803
        """Volumes at ages X[:, age_column]."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)  # noqa: N806
        age = X[:, self.age_column] - self.age_offset_
        return self.curve_.volume(age) + self.volume_offset_
