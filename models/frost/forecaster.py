"""The per-site frost forecaster: the quantile model with enough nights, the physical rule without.

`fit(weather)` learns from the nights the site's file covers; `predict(weather)` forecasts every
issue time in a file, from the readings up to that time only.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from models.frost.decision import (
    DEFAULT_P_STAR,
    TRAINING_RECALL,
    choose_p_star,
    frost_probability,
    warned,
)
from models.frost.features import (
    DEFAULT_ISSUE_HOURS,
    MORNING_HOUR,
    NightRows,
    night_rows,
    validate_hours,
)
from models.frost.hourly import FrostError, HourlyWeather
from models.frost.model import QuantileIntervalRegressor
from models.frost.physical import PhysicalRule, fit_rule

# Fewer nights than this and the site gets the physical rule: five folds of at least six
# nights each for the conformal step. A design choice, not a published number (docs/frost.md).
MIN_NIGHTS = 30


class Method(StrEnum):
    """Which method made a forecast."""

    MODEL = "model"
    PHYSICAL_RULE = "physical_rule"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class NightForecast:
    """One forecast: the night after `issued_at`, until the morning hour of the next day."""

    date: dt.date
    issued_at: dt.datetime
    forecast: float
    low: float
    high: float
    method: Method
    observed: float
    p_frost: float = math.nan  # forecast probability of a minimum <= 0 °C
    warned: bool = False  # p_frost >= the model's p* for this issue hour (docs/frost.md)


def _mae(error: np.ndarray) -> float:
    """Mean absolute value of the finite errors (NaN when none)."""
    ok = error[np.isfinite(error)]
    return float(np.mean(np.abs(ok))) if len(ok) else math.nan


class FrostForecaster(BaseEstimator):
    """Night-minimum forecasts with an interval, per site, at fixed local issue hours."""

    def __init__(
        self,
        *,
        issue_hours: tuple[int, ...] = DEFAULT_ISSUE_HOURS,
        morning_hour: int = MORNING_HOUR,
        coverage: float = 0.8,
        min_nights: int = MIN_NIGHTS,
        regressor: QuantileIntervalRegressor | None = None,
        warn_recall: float = TRAINING_RECALL,
    ) -> None:
        """Store issue hours, morning hour, coverage, the regressor and the warning's recall."""
        self.issue_hours = issue_hours
        self.morning_hour = morning_hour
        self.coverage = coverage
        self.min_nights = min_nights
        self.regressor = regressor
        self.warn_recall = warn_recall

    def fit(self, X: HourlyWeather, y: None = None) -> FrostForecaster:  # noqa: N803
        """Learn from the site's hourly weather (the nights' minima come from it too)."""
        hours = tuple(int(h) for h in self.issue_hours)
        validate_hours(hours, self.morning_hour)
        rows = night_rows(X, hours, self.morning_hour)
        known = np.isfinite(rows.observed)
        self.nights_ = len(np.unique(rows.day[known]))
        if not known.any():
            raise FrostError("no night in the weather has an observed minimum to learn from")
        dates = rows.dates()
        self.first_date_ = min(d for d, k in zip(dates, known, strict=True) if k)
        self.last_date_ = max(d for d, k in zip(dates, known, strict=True) if k)
        self.columns_ = tuple(X.columns)
        # The rule's K and spread: from nights on which its inputs were read.
        self.rule_ = fit_rule(
            rows.t_midday, rows.td_midday, rows.observed, days=rows.day, coverage=self.coverage
        )
        rule_forecast = self.rule_.predict(rows.t_midday, rows.td_midday)[0]
        self.metrics_: dict[str, float] = {
            "rows": float(known.sum()),
            "persistence_mae": _mae(rows.observed - rows.persistence),
            "rule_mae_in_sample": _mae(rows.observed - rule_forecast),
        }
        self.regressors_: dict[int, QuantileIntervalRegressor] = {}
        # Without a model the warning reads the rule's interval at the default p*.
        self.p_star_: dict[int, float] = dict.fromkeys(hours, DEFAULT_P_STAR)
        if self.nights_ >= self.min_nights:
            self._fit_models(rows, known, hours)
            self.method_ = Method.MODEL
        else:
            self.method_ = Method.PHYSICAL_RULE
        self.issue_hours_ = hours
        return self

    def _fit_models(self, rows: NightRows, known: np.ndarray, hours: tuple[int, ...]) -> None:
        """One regressor, conformal correction and warning threshold p* per issue hour.

        Separate per hour because the weight of the evening readings differs between the
        afternoon and the evening issue (one model with the hour as a feature was 0.1 °C worse
        on the development data), and so that each issue time's interval is calibrated on its
        own forecasts.
        """
        base = self.regressor or QuantileIntervalRegressor(coverage=self.coverage)
        errors, inside = [], []
        for h in hours:
            at = known & (rows.hour == h)
            if at.sum() < 2:
                continue
            reg = clone(base).set_params(coverage=self.coverage)
            reg.fit(rows.x[at], rows.observed[at], groups=rows.day[at])
            self.regressors_[h] = reg
            lo, mid, hi = reg.oof_quantiles_.T
            lo, hi = np.minimum(lo - reg.correction_, mid), np.maximum(hi + reg.correction_, mid)
            y = rows.observed[at]
            # p* from out-of-fold probabilities only: never from the nights being forecast.
            p = frost_probability(lo, mid, hi, coverage=self.coverage)
            self.p_star_[h] = choose_p_star(p, y, recall=self.warn_recall)
            ok = np.isfinite(mid)
            errors.append(np.abs(y - mid)[ok])
            inside.append(((y >= lo) & (y <= hi))[ok])
        if errors and np.concatenate(errors).size:
            self.metrics_["model_cv_mae"] = float(np.mean(np.concatenate(errors)))
            self.metrics_["model_cv_coverage"] = float(np.mean(np.concatenate(inside)))
        else:
            self.metrics_["model_cv_mae"] = self.metrics_["model_cv_coverage"] = math.nan

    def forecast_rows(self, rows: NightRows) -> tuple[np.ndarray, ...]:
        """Forecast, low, high and method (as strings) for precomputed rows."""
        check_is_fitted(self)
        n = len(rows.observed)
        forecast, low, high = self.rule_.predict(rows.t_midday, rows.td_midday)
        method = np.where(np.isfinite(forecast), Method.PHYSICAL_RULE.value, Method.NONE.value)
        method = method.astype(object)
        forecast, low, high = forecast.copy(), low.copy(), high.copy()
        for h, reg in self.regressors_.items():
            # The model needs the site's own temperature near the issue time; without it the
            # row falls back to the rule (or to no forecast when the midday readings lack too).
            use = rows.recent_temperature & (rows.hour == h)
            if use.any():
                forecast[use] = reg.predict(rows.x[use])
                low[use], high[use] = reg.predict_interval(rows.x[use])
                method[use] = Method.MODEL.value
        none = method == Method.NONE.value
        nan = np.full(n, np.nan)
        return (
            np.where(none, nan, forecast),
            np.where(none, nan, low),
            np.where(none, nan, high),
            np.asarray(method, dtype=object),
        )

    def warning_rows(
        self, rows: NightRows, forecast: np.ndarray, low: np.ndarray, high: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """P(minimum <= 0 °C), the p* of each row's issue hour, and whether it is warned."""
        check_is_fitted(self)
        p = frost_probability(low, forecast, high, coverage=self.coverage)
        p_star = np.array([self.p_star_.get(int(h), DEFAULT_P_STAR) for h in rows.hour])
        return p, p_star, warned(p, p_star)

    def predict_nights(self, X: HourlyWeather) -> list[NightForecast]:  # noqa: N803
        """One forecast per day and issue hour whose issue time the file's readings reach."""
        check_is_fitted(self)
        rows = night_rows(X, self.issue_hours_, self.morning_hour)
        forecast, low, high, method = self.forecast_rows(rows)
        p_frost, _, warn = self.warning_rows(rows, forecast, low, high)
        last = X.last_label()
        out = []
        for i, (date, issued) in enumerate(zip(rows.dates(), rows.issued_at(), strict=True)):
            if last is None or issued > last:
                continue
            out.append(
                NightForecast(
                    date=date,
                    issued_at=issued,
                    forecast=float(forecast[i]),
                    low=float(low[i]),
                    high=float(high[i]),
                    method=Method(method[i]),
                    observed=float(rows.observed[i]),
                    p_frost=float(p_frost[i]),
                    warned=bool(warn[i]),
                )
            )
        return out

    def predict(self, X: HourlyWeather) -> np.ndarray:  # noqa: N803
        """The point forecasts of `predict_nights`, as an array."""
        return np.array([f.forecast for f in self.predict_nights(X)], dtype=np.float64)


__all__ = ["MIN_NIGHTS", "FrostForecaster", "Method", "NightForecast", "PhysicalRule"]
