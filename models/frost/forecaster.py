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
    ) -> None:
        """Store issue hours, the morning hour ending the night, coverage and the regressor."""
        self.issue_hours = issue_hours
        self.morning_hour = morning_hour
        self.coverage = coverage
        self.min_nights = min_nights
        self.regressor = regressor

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
        if self.nights_ >= self.min_nights:
            base = self.regressor or QuantileIntervalRegressor(coverage=self.coverage)
            reg = clone(base).set_params(coverage=self.coverage)
            self.regressor_: QuantileIntervalRegressor | None = reg.fit(
                rows.x[known], rows.observed[known], groups=rows.day[known]
            )
            self.method_ = Method.MODEL
            self.metrics_["model_cv_mae"] = reg.cv_mae_
            self.metrics_["model_cv_coverage"] = reg.cv_coverage_
        else:
            self.regressor_ = None
            self.method_ = Method.PHYSICAL_RULE
        self.issue_hours_ = hours
        return self

    def forecast_rows(self, rows: NightRows) -> tuple[np.ndarray, ...]:
        """Forecast, low, high and method (as strings) for precomputed rows."""
        check_is_fitted(self)
        n = len(rows.observed)
        forecast, low, high = self.rule_.predict(rows.t_midday, rows.td_midday)
        method = np.where(np.isfinite(forecast), Method.PHYSICAL_RULE.value, Method.NONE.value)
        if self.regressor_ is not None:
            # The model needs the site's own temperature near the issue time; without it the
            # row falls back to the rule (or to no forecast when the midday readings lack too).
            use = rows.recent_temperature
            if use.any():
                m_fc = self.regressor_.predict(rows.x[use])
                m_lo, m_hi = self.regressor_.predict_interval(rows.x[use])
                forecast, low, high = forecast.copy(), low.copy(), high.copy()
                forecast[use], low[use], high[use] = m_fc, m_lo, m_hi
                method = method.astype(object)
                method[use] = Method.MODEL.value
        none = method == Method.NONE.value
        nan = np.full(n, np.nan)
        return (
            np.where(none, nan, forecast),
            np.where(none, nan, low),
            np.where(none, nan, high),
            np.asarray(method, dtype=object),
        )

    def predict_nights(self, X: HourlyWeather) -> list[NightForecast]:  # noqa: N803
        """One forecast per day and issue hour whose issue time the file's readings reach."""
        check_is_fitted(self)
        rows = night_rows(X, self.issue_hours_, self.morning_hour)
        forecast, low, high, method = self.forecast_rows(rows)
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
                )
            )
        return out

    def predict(self, X: HourlyWeather) -> np.ndarray:  # noqa: N803
        """The point forecasts of `predict_nights`, as an array."""
        return np.array([f.forecast for f in self.predict_nights(X)], dtype=np.float64)


__all__ = ["MIN_NIGHTS", "FrostForecaster", "Method", "NightForecast", "PhysicalRule"]
