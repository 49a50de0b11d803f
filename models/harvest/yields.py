"""Yield features from a season's weather path, and a regressor with conformal intervals."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted, validate_data

from models.conformal import conformal_quantile
from models.harvest.climate import PRE_DAYS
from models.harvest.types import FloatArray

HEAT_LIMITS = (25.0, 28.0, 30.0, 33.0, 35.0)
BUCKET_MM = 100.0
# Stress around flowering matters (heat blights grain, cold makes florets sterile), but when a
# crop flowers is not observed: windows at several distances before maturity let the model pick.
OFFSETS = (20, 30, 40, 50, 60)
SOIL_LIMITS = (20.0, 25.0, 30.0)
FEATURE_NAMES: tuple[str, ...] = (
    "length_days",
    "known_share",
    "tmax_mean",
    "tmin_mean",
    "radiation_mean",
    "rain_per_day",
    *(f"hot_{int(t)}" for t in HEAT_LIMITS),
    *(
        f"{part}_{what}"
        for part in ("early", "middle", "late")
        for what in ("tmax", "rad", "hot30")
    ),
    *(f"before_{k}_{what}" for k in OFFSETS for what in ("hot35", "hot30", "cold19")),
    "late_radiation",
    "bloom_frost",
    "planting_frost",
    "bucket_mean",
    "bucket_dry",
    "soil_mean",
    "soil_p10",
    *(f"soil_below_{int(k)}" for k in SOIL_LIMITS),
    "deadline",
)


def _mean(x: FloatArray) -> float:
    """Mean ignoring NaN; NaN for an empty or all-NaN slice."""
    ok = x[np.isfinite(x)]
    return float(ok.mean()) if len(ok) else float("nan")


def _share(x: FloatArray, limit: float) -> float:
    """Share of finite values above `limit`."""
    ok = x[np.isfinite(x)]
    return float(np.mean(ok > limit)) if len(ok) else float("nan")


def _bucket(path: FloatArray) -> FloatArray:
    """Relative soil water (0..1) of a simple bucket fed by rain, emptied by Hargreaves ET."""
    tm = 0.5 * (path[:, 0] + path[:, 1])
    # Hargreaves' radiation formula: ET0 = 0.0135 (T + 17.8) Rs, Rs as mm/day of evaporation.
    et = np.maximum(0.0135 * (np.nan_to_num(tm) + 17.8) * np.nan_to_num(path[:, 2]) / 2.45, 0.0)
    rain = np.nan_to_num(path[:, 3])
    store = BUCKET_MM
    out = np.empty(len(path))
    for i in range(len(path)):
        store = min(store + rain[i], BUCKET_MM)
        store -= et[i] * min(1.0, store / (0.5 * BUCKET_MM))
        out[i] = store / BUCKET_MM
    return out


def yield_features(
    path: FloatArray, mature: float, mid: float, known_n: int, deadline: bool
) -> FloatArray:
    """Feature vector of one season path (PRE_DAYS before planting on, columns as FieldWeather)."""
    m = int(np.clip(mature, 1, len(path) - PRE_DAYS - 1))
    h = int(np.clip(mid, 0, m))
    season = path[PRE_DAYS : PRE_DAYS + m + 1]
    tmin, tmax, rad, rain, soil = (season[:, j] for j in range(5))
    thirds = np.array_split(np.arange(len(season)), 3)
    part_features = [
        value
        for idx in thirds
        for value in (_mean(tmax[idx]), _mean(rad[idx]), _share(tmax[idx], 30.0))
    ]
    bucket = _bucket(path)[PRE_DAYS : PRE_DAYS + m + 1]
    soil_ok = soil[np.isfinite(soil)]
    windows = []
    for k in OFFSETS:
        centre = m - k
        around = tmax[max(centre - 7, 0) : max(centre + 8, 1)]
        booting = tmin[max(centre - 15, 0) : max(centre - 5, 1)]
        windows += [
            _share(around, 35.0),
            _share(around, 30.0),
            float(np.nansum(np.maximum(19.0 - booting, 0.0))),
        ]
    values = [
        float(m),
        float(np.clip((known_n - PRE_DAYS) / max(m, 1), 0.0, 1.5)),
        _mean(tmax),
        _mean(tmin),
        _mean(rad),
        _mean(rain),
        *(_share(tmax, t) for t in HEAT_LIMITS),
        *part_features,
        *windows,
        _mean(rad[max(m - 40, h) :]),
        float(np.sum(path[max(PRE_DAYS - 5, 0) : PRE_DAYS + 10, 0] < -2.0)),
        float(np.sum(tmin[:20] < -1.0)),
        _mean(bucket),
        float(np.mean(bucket < 0.3)),
        float(soil_ok.mean()) if len(soil_ok) else float("nan"),
        float(np.quantile(soil_ok, 0.1)) if len(soil_ok) else float("nan"),
        *(float(np.mean(soil_ok < k)) if len(soil_ok) else float("nan") for k in SOIL_LIMITS),
        float(deadline),
    ]
    return np.array(values, dtype=np.float64)


def default_candidates() -> tuple[BaseEstimator, ...]:
    """A small gradient-boosting model, a ridge regression and the training median: few seasons
    favour the ridge, and weather that tells nothing about the outcome the median."""
    # The classic (single-threaded) booster: on tens of rows, OpenMP threads only add overhead.
    booster = make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        GradientBoostingRegressor(
            n_estimators=80,
            learning_rate=0.05,
            max_depth=2,
            min_samples_leaf=4,
            subsample=0.8,
            random_state=0,
        ),
    )
    ridge = make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        RidgeCV(alphas=np.logspace(-2, 3, 11)),
    )
    return booster, ridge, DummyRegressor(strategy="median")


class IntervalRegressor(RegressorMixin, BaseEstimator):
    """A regressor plus split-conformal intervals from its cross-validated residuals.

    With `estimator=None` it cross-validates a gradient-boosting model, a ridge regression and
    the median, and keeps the one with the smallest out-of-fold absolute error. The interval is
    the prediction ± the ⌈(n + 1) · coverage⌉-th smallest absolute out-of-fold residual (Lei et
    al. 2018, "Distribution-free predictive inference for regression", JASA 113: 1094–1111).
    """

    def __init__(
        self, estimator: BaseEstimator | None = None, coverage: float = 0.8, cv: int = 5
    ) -> None:
        """Store the base estimator (None: choose automatically), coverage and folds."""
        self.estimator = estimator
        self.coverage = coverage
        self.cv = cv

    def fit(
        self,
        X: npt.ArrayLike,  # noqa: N803
        y: npt.ArrayLike,
        groups: npt.ArrayLike | None = None,
    ) -> IntervalRegressor:
        """Fit on all rows; residual quantiles come from out-of-fold predictions.

        Rows sharing a group (e.g. one season seen as of several dates) stay in one fold.
        """
        X, y = validate_data(  # noqa: N806
            self, X, y, y_numeric=True, ensure_all_finite="allow-nan", ensure_min_samples=2
        )
        if not 0.0 < self.coverage < 1.0:
            raise ValueError(f"coverage must be in (0, 1), got {self.coverage}")
        candidates = default_candidates() if self.estimator is None else (self.estimator,)
        keys = np.arange(len(y)) if groups is None else np.asarray(groups)
        best: tuple[float, BaseEstimator, FloatArray] | None = None
        for candidate in candidates:
            residuals = _oof_residuals(candidate, X, y, keys, self.cv)
            err = float(np.mean(np.abs(residuals)))
            if best is None or err < best[0]:
                best = (err, candidate, residuals)
        assert best is not None
        self.estimator_ = clone(best[1]).fit(X, y)
        width = conformal_quantile(np.abs(best[2]), self.coverage)
        self.residual_low_, self.residual_high_ = -width, width
        self.cv_mae_ = best[0]
        # A linear model extrapolates without bound; outcomes never seen in training are not
        # credible, so predictions stay inside the training range.
        self.y_range_ = (float(np.min(y)), float(np.max(y)))
        return self

    def predict(self, X: npt.ArrayLike) -> FloatArray:  # noqa: N803
        """Point predictions of the fitted estimator."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")  # noqa: N806
        return np.clip(np.asarray(self.estimator_.predict(X), dtype=np.float64), *self.y_range_)

    def predict_interval(self, X: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:  # noqa: N803
        """Lower and upper bounds at the configured coverage."""
        centre = self.predict(X)
        return centre + self.residual_low_, centre + self.residual_high_

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        """Missing values are accepted when the base estimator (or both defaults) accept them."""
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = (
            True if self.estimator is None else get_tags(self.estimator).input_tags.allow_nan
        )
        return tags


def _oof_residuals(
    estimator: BaseEstimator,
    x: FloatArray,
    y: FloatArray,
    keys: np.ndarray,
    cv: int,
) -> FloatArray:
    """Out-of-fold residuals with folds over groups; zeros when there are too few groups."""
    unique = np.unique(keys)
    residuals = np.zeros(len(y))
    folds = min(cv, len(unique))
    if folds < 2:
        return residuals
    splitter = KFold(n_splits=folds, shuffle=True, random_state=0)
    for train, test in splitter.split(unique):
        fit_rows = np.isin(keys, unique[train])
        test_rows = np.isin(keys, unique[test])
        model = clone(estimator).fit(x[fit_rows], y[fit_rows])
        residuals[test_rows] = y[test_rows] - model.predict(x[test_rows])
    return residuals
