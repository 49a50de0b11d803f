"""Stock-out forecast: held-out accuracy against the naive baseline, intervals, online use."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.stockout import evaluate_stockout
from models.stock.stockout import (
    MS_PER_HOUR,
    StockoutError,
    StockoutForecaster,
    forecast_stockout,
    hourly_consumption,
    naive_stockout,
)

HELD_OUT_SEEDS = (901, 902)  # never used while developing the model
HORIZON_H = 72.0
START = 1_767_798_000_000  # 2026-01-08 00:00 JST, a Thursday after the New Year closure
STEP = 600_000


def synthetic_bin(days: int = 35, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A day-shift bin: 10 units/h from 08:00 to 17:00 on weekdays, refilled to 500 at 400 use."""
    rng = np.random.default_rng(seed)
    ts = START + STEP * np.arange(days * 144, dtype=np.int64)
    local_h = ((ts + 9 * MS_PER_HOUR) % 86_400_000) // MS_PER_HOUR
    weekday = ((ts + 9 * MS_PER_HOUR) // 86_400_000 + 3) % 7
    rate = np.where((local_h >= 8) & (local_h < 17) & (weekday < 5), 10.0 / 6.0, 0.0)
    level = np.empty(len(ts))
    stock = 500.0
    for i, r in enumerate(rate):
        stock -= r
        if stock < 100.0:
            stock = 500.0
        level[i] = stock
    return ts, level + 0.3 * rng.standard_normal(len(ts)), rate


@pytest.fixture(scope="module")
def held_out() -> object:
    """Scores on simulated factories with seeds the model was not tuned on."""
    return evaluate_stockout(HELD_OUT_SEEDS, horizon_h=HORIZON_H)


def test_median_error_within_ten_percent_of_horizon(held_out: object) -> None:
    """Median absolute error of the time to stock-out is at most 7.2 h at 3 days ahead."""
    assert held_out.cases >= 100
    assert held_out.model_mae_h <= 0.1 * HORIZON_H


def test_beats_constant_rate_baseline(held_out: object) -> None:
    """The weekday-hour profile is clearly better than a constant 7-day mean rate."""
    assert held_out.model_mae_h < 0.5 * held_out.baseline_mae_h


def test_interval_covers_truth(held_out: object) -> None:
    """The calibrated 10-90 % interval holds the true time to stock-out 75-85 % of the time."""
    assert 0.75 <= held_out.coverage <= 0.85


def test_refills_are_not_consumption() -> None:
    """Hourly use ignores the refill steps and matches the true hourly use."""
    ts, level, rate = synthetic_bin()
    _, use = hourly_consumption(ts, level)
    true_hourly = rate.reshape(-1, 6).sum(axis=1)[1:]
    ok = np.isfinite(use)
    assert ok.mean() > 0.9
    assert np.abs(use[ok] - true_hourly[: len(use)][ok]).mean() < 0.5
    assert np.nanmin(use) > -2.0


def test_weekend_pause_is_forecast() -> None:
    """From Friday noon the forecast skips the weekend, as the true use does."""
    ts, level, rate = synthetic_bin(days=50)
    origin = int(np.searchsorted(ts, START + 29 * 86_400_000 + 12 * MS_PER_HOUR))  # Fri 6 Feb
    true_level = level[origin] - 0.0
    future = np.cumsum(rate[origin + 1 :])
    truth_h = (int(np.searchsorted(future, true_level)) + 1) * STEP / MS_PER_HOUR
    fc = forecast_stockout(ts[: origin + 1], level[: origin + 1])
    assert truth_h > 48.0  # the stock outlasts the weekend
    assert abs(fc.hours_median - truth_h) < 3.0
    # A calibrated 80 % interval misses one case in five; this one may lie just outside it,
    # but not by more than the few per cent the conformal margin narrowed it by.
    raw = forecast_stockout(ts[: origin + 1], level[: origin + 1], margin=0.0)
    assert raw.hours_low <= truth_h <= raw.hours_high
    assert fc.hours_low <= truth_h * 1.05
    naive = naive_stockout(ts[: origin + 1], level[: origin + 1], int(ts[origin]))
    assert abs(naive - truth_h) > 3.0 * abs(fc.hours_median - truth_h)


def test_reorder_alert_when_lower_bound_below_lead_time() -> None:
    """A low bin raises the alert for a long lead time, not for a short one."""
    ts, level, _ = synthetic_bin(days=30)
    level = level.copy()
    level[-6:] = 40.0
    now = int(ts[-1])
    long_lead = forecast_stockout(ts, level, now, lead_time_h=24.0 * 7)
    short_lead = forecast_stockout(ts, level, now, lead_time_h=0.0)
    assert long_lead.reorder
    assert not short_lead.reorder


def test_online_forecaster_matches_batch() -> None:
    """learn_one over the readings then forecast_one gives the batch forecast."""
    ts, level, _ = synthetic_bin(days=30)
    online = StockoutForecaster(window_days=40.0)
    for t, v in zip(ts.tolist(), level.tolist(), strict=True):
        online.learn_one(t, v)
    assert online.forecast_one() == forecast_stockout(ts, level)


def test_short_history_is_a_clear_error() -> None:
    """Less than two days of readings cannot give a weekly profile."""
    ts, level, _ = synthetic_bin(days=1)
    with pytest.raises(StockoutError, match="at least 48 h"):
        forecast_stockout(ts, level)
    with pytest.raises(StockoutError, match="equal length"):
        forecast_stockout(ts, level[:-1])
