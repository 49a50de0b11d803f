"""Stock-out forecasts scored on simulated factories, whose true stock is known."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from core.time import MS_PER_DAY, MS_PER_HOUR
from models.stock.conformal import fit_margin
from models.stock.stockout import IntArray, forecast_stockout, hourly_consumption, naive_stockout
from simulators.factory import DEFAULT_FACTORIES, simulate_factory


@dataclass(frozen=True, slots=True)
class StockoutScore:
    """Held-out accuracy: median absolute errors (h) of model and baseline, interval coverage."""

    cases: int
    horizon_h: float
    model_mae_h: float
    baseline_mae_h: float
    coverage: float
    alert_recall: float
    alert_precision: float


def true_hours_to_empty(stock: IntArray, ts_ms: IntArray, origin: int) -> float:
    """Hours until cumulative true use after `origin` reaches the stock at `origin` (inf if never).

    Refills are ignored: the question is how long the stock on hand lasts.
    """
    use = np.maximum(-np.diff(stock[origin:].astype(np.float64)), 0.0)
    reached = np.searchsorted(np.cumsum(use), float(stock[origin]))
    if reached >= len(use):
        return float("inf")
    return (int(ts_ms[origin + 1 + reached]) - int(ts_ms[origin])) / MS_PER_HOUR


@dataclass(frozen=True, slots=True)
class _Case:
    """One forecast origin: the forecast's median and interval, the baseline and the truth."""

    median_h: float
    low_h: float
    high_h: float
    naive_h: float
    true_h: float
    lead_h: float
    reorder: bool


def _cases(
    seeds: tuple[int, ...],
    *,
    horizon_h: float,
    origins_per_bin: int,
    days: int,
    warmup_days: int,
    margin: float | None,
) -> Iterator[_Case]:
    """Forecasts at origins about `horizon_h` from empty on simulated factories of `seeds`.

    Origins are chosen on what is observable then (level over the history's mean daily use at
    most the horizon), not on the outcome, which would favour unusually fast days.
    """
    start = 1_767_193_200_000  # 2026-01-01 00:00 JST
    step = 600_000
    per_day = MS_PER_DAY // step
    for seed in seeds:
        rng = np.random.default_rng(seed + 10_000)
        offset = int(rng.integers(0, 300)) * MS_PER_DAY
        for f, spec in enumerate(DEFAULT_FACTORIES):
            sim = simulate_factory(spec, start + offset, days * MS_PER_DAY, step, seed * 10 + f)
            for b in spec.bins:
                weight = next(s for s in sim.series if s.sensor == f"{b.name}_weight")
                stock, ts, values = sim.stock[b.name], weight.ts_ms, weight.values
                hour_ms, use = hourly_consumption(ts, values)
                candidates = rng.permutation(
                    np.arange(warmup_days * per_day, (days - 12) * per_day)
                )
                taken = 0
                for i in candidates[: 30 * origins_per_bin].tolist():
                    past = slice(i - warmup_days * per_day, i + 1)
                    seen = use[(hour_ms >= ts[past.start]) & (hour_ms < ts[i])]
                    seen = seen[np.isfinite(seen)]
                    if not len(seen) or not values[i] <= float(seen.mean()) * horizon_h:
                        continue
                    hours = true_hours_to_empty(stock, ts, i)
                    if not np.isfinite(hours) or hours < 1.0:
                        continue
                    now = int(ts[i])
                    lead = b.lead_time_h
                    fc = forecast_stockout(
                        ts[past], values[past], now, lead_time_h=lead, margin=margin
                    )
                    naive = min(naive_stockout(ts[past], values[past], now), 1e6)
                    yield _Case(
                        fc.hours_median,
                        fc.hours_low,
                        fc.hours_high,
                        naive,
                        hours,
                        lead,
                        fc.reorder,
                    )
                    taken += 1
                    if taken >= origins_per_bin:
                        break


def calibrate_margin(
    seeds: tuple[int, ...], horizon_h: float = 72.0, coverage: float = 0.8
) -> float:
    """Split-conformal log margin of the raw interval on calibration seeds (never held out)."""
    cases = list(
        _cases(seeds, horizon_h=horizon_h, origins_per_bin=10, days=80, warmup_days=28, margin=0.0)
    )
    return fit_margin(
        [c.low_h for c in cases], [c.high_h for c in cases], [c.true_h for c in cases], coverage
    )


def evaluate_stockout(
    seeds: tuple[int, ...],
    horizon_h: float = 72.0,
    origins_per_bin: int = 10,
    days: int = 80,
    warmup_days: int = 28,
    *,
    margin: float | None = None,
) -> StockoutScore:
    """Score model and baseline on simulated factories, at origins about `horizon_h` from empty;
    `margin` 0 scores the uncalibrated interval, None the calibrated default."""
    cases = list(
        _cases(
            seeds,
            horizon_h=horizon_h,
            origins_per_bin=origins_per_bin,
            days=days,
            warmup_days=warmup_days,
            margin=margin,
        )
    )
    err = np.array(
        [
            (abs(c.median_h - c.true_h), abs(c.naive_h - c.true_h), c.low_h <= c.true_h <= c.high_h)
            for c in cases
        ],
        dtype=np.float64,
    )
    flags = np.array(
        [(c.reorder, c.true_h < c.lead_h) for c in cases if c.lead_h > 0], dtype=bool
    ).reshape(-1, 2)
    return StockoutScore(
        cases=len(err),
        horizon_h=horizon_h,
        model_mae_h=float(np.median(err[:, 0])),
        baseline_mae_h=float(np.median(err[:, 1])),
        coverage=float(err[:, 2].mean()),
        alert_recall=float(flags[flags[:, 1], 0].mean()) if flags[:, 1].any() else float("nan"),
        alert_precision=float(flags[flags[:, 0], 1].mean()) if flags[:, 0].any() else float("nan"),
    )
