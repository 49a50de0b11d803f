"""Quantile gradient boosting for the night minimum, with conformalized (CQR) 80 % intervals.

A ridge regression (missing features imputed by their median) carries the linear part: trees
cannot extrapolate, and the autumn after a spring-and-summer training window is colder than any
night they saw. Three `HistGradientBoostingRegressor`s with the pinball loss then model the 10th,
50th and 90th percentiles of what the ridge leaves; they accept missing features (NaN) as they
are, so a site without a humidity or radiation sensor still gets the nonlinear part.

Quantile models alone tend to cover less than they claim on new nights, so the interval is
widened (or narrowed) by the conformal correction of Romano, Patterson & Candès (2019),
"Conformalized quantile regression", NeurIPS 32, computed on out-of-fold predictions: folds are
contiguous blocks of nights, and both issue times of a night stay in one fold.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from models.frost.hourly import FloatArray


class QuantileIntervalRegressor(RegressorMixin, BaseEstimator):
    """Median forecast and a conformalized `coverage` interval from three quantile boosters."""

    def __init__(
        self,
        *,
        coverage: float = 0.8,
        cv: int = 5,
        max_iter: int = 100,
        learning_rate: float = 0.02,
        max_leaf_nodes: int = 4,
        min_samples_leaf: int = 30,
        random_state: int = 0,
        linear_base: bool = True,
    ) -> None:
        """Store the interval coverage, folds for the conformal step and booster settings."""
        self.coverage = coverage
        self.cv = cv
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state
        self.linear_base = linear_base

    def _booster(self, quantile: float) -> HistGradientBoostingRegressor:
        """One quantile booster with this estimator's settings."""
        return HistGradientBoostingRegressor(
            loss="quantile",
            quantile=quantile,
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            early_stopping=False,
            random_state=self.random_state,
        )

    def _quantiles(self) -> tuple[float, float, float]:
        """Lower, middle and upper quantile levels."""
        tail = (1.0 - self.coverage) / 2.0
        return tail, 0.5, 1.0 - tail

    def _fit_all(
        self, x: FloatArray, y: FloatArray
    ) -> tuple[npt.NDArray[np.int64], Pipeline | None, list[HistGradientBoostingRegressor]]:
        """The columns used, the linear base (or None) and the boosters fitted on its residuals.

        A column without two distinct values (a sensor the site lacks) is left out: it carries
        nothing, and the boosters' binning cannot take it.
        """
        cols = np.flatnonzero(
            [len(np.unique(c[np.isfinite(c)])) >= 2 for c in np.asarray(x, dtype=np.float64).T]
        )
        if not len(cols):
            raise ValueError("no feature has two distinct values")
        x = x[:, cols]
        base = None
        rest = y
        if self.linear_base:
            base = make_pipeline(
                SimpleImputer(strategy="median", keep_empty_features=True),
                StandardScaler(),
                RidgeCV(alphas=np.logspace(-2, 3, 11)),
            ).fit(x, y)
            rest = y - base.predict(x)
        return cols, base, [self._booster(q).fit(x, rest) for q in self._quantiles()]

    @staticmethod
    def _apply(
        fitted: tuple[npt.NDArray[np.int64], Pipeline | None, list[HistGradientBoostingRegressor]],
        x: FloatArray,
    ) -> FloatArray:
        """The three quantile predictions per row, sorted so that they never cross."""
        cols, base, boosters = fitted
        x = x[:, cols]
        offset = base.predict(x) if base is not None else np.zeros(len(x))
        raw = np.column_stack([offset + m.predict(x) for m in boosters])
        return np.sort(raw, axis=1)

    def fit(
        self,
        X: npt.ArrayLike,  # noqa: N803
        y: npt.ArrayLike,
        groups: npt.ArrayLike | None = None,
    ) -> QuantileIntervalRegressor:
        """Fit the boosters on all rows; the conformal correction comes from out-of-fold rows.

        `groups` (e.g. the night of each row, in time order) keeps a group inside one fold.
        """
        X, y = validate_data(  # noqa: N806
            self, X, y, y_numeric=True, ensure_all_finite="allow-nan", ensure_min_samples=2
        )
        if not 0.0 < self.coverage < 1.0:
            raise ValueError(f"coverage must be in (0, 1), got {self.coverage}")
        keys = np.arange(len(y)) if groups is None else np.asarray(groups)
        unique = np.unique(keys)
        folds = min(self.cv, len(unique))
        oof = np.full((len(y), 3), np.nan)
        if folds >= 2:
            # Contiguous blocks, not shuffled: neighbouring nights are alike, and a shuffled fold
            # would let the model see the night before and after each held-out one.
            for block in np.array_split(unique, folds):
                test = np.isin(keys, block)
                if test.all() or not test.any():
                    continue
                oof[test] = self._apply(self._fit_all(X[~test], y[~test]), X[test])
        ok = np.isfinite(oof).all(axis=1)
        # Kept for the caller's own out-of-fold choices (the frost warning's p*); not persisted.
        self.oof_quantiles_ = np.sort(oof, axis=1)
        if ok.any():
            lo, mid, hi = np.sort(oof[ok], axis=1).T
            scores = np.maximum(lo - y[ok], y[ok] - hi)
            n = len(scores)
            level = min(1.0, math.ceil((n + 1) * self.coverage) / n)
            self.correction_ = float(np.quantile(scores, level, method="higher"))
            self.cv_mae_ = float(np.mean(np.abs(y[ok] - mid)))
            self.cv_coverage_ = float(
                np.mean((y[ok] >= lo - self.correction_) & (y[ok] <= hi + self.correction_))
            )
        else:
            self.correction_, self.cv_mae_, self.cv_coverage_ = 0.0, math.nan, math.nan
        self.features_, self.base_, self.estimators_ = self._fit_all(X, y)
        self.n_iter_ = max(int(m.n_iter_) for m in self.estimators_)
        return self

    def _raw(self, X: npt.ArrayLike) -> FloatArray:  # noqa: N803
        """The three quantile predictions per row, sorted so that they never cross."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")  # noqa: N806
        return self._apply((self.features_, self.base_, self.estimators_), X)

    def predict(self, X: npt.ArrayLike) -> FloatArray:  # noqa: N803
        """The median forecast."""
        return self._raw(X)[:, 1]

    def predict_interval(self, X: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:  # noqa: N803
        """Lower and upper bound at the configured coverage; they always bracket the median."""
        raw = self._raw(X)
        low = np.minimum(raw[:, 0] - self.correction_, raw[:, 1])
        high = np.maximum(raw[:, 2] + self.correction_, raw[:, 1])
        return low, high

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        """Missing feature values are accepted (the boosters route them)."""
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
