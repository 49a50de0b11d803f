"""Stock-out forecast for one bin from its recent stock readings (load cell kg or item count).

Consumption is read from the level's hourly decreases; hours with a replenishment step are left
out rather than counted as negative use. Recorded deliveries (work records) say where those
steps are: the hours around a delivery are left out whatever the size of the rise, so a small
delivery is not mistaken for negative use, and a delivery expected after now lifts the level
when it arrives in the forecast. The expected rate is a weekday × hour-of-day profile
(public holidays behave like Sundays), fitted as a product of a weekday factor and an hour shape
so that four weeks of noisy days are enough. The forecast walks the profile forward from the
current level; its interval comes from Monte Carlo paths whose daily totals vary like the
history's day-to-day ratios to the profile, and today's own ratio so far carries into the rest
of today.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from core.time import JST_OFFSET_MS, MS_PER_DAY, MS_PER_HOUR, from_day_number
from models.errors import ModelError
from models.learner import OnlineLearner
from models.stock.conformal import widen

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SUNDAY = 6
MEDIAN_SAMPLES = 7
MIN_HISTORY_H = 48
PATHS = 400
SPREAD = 1.25
# Split-conformal log margin of the 80 % interval (models.stock.conformal), fitted by
# evaluation.stockout.calibrate_margin on development seeds 1-5 (392 origins), never on the
# held-out seeds 901-905: the Monte Carlo interval alone covered 86 % there, so it narrows.
INTERVAL_MARGIN = -0.0224
# A delivery's recorded time is a person's note: the level may rise in the hour before or after.
DELIVERY_SLACK_MS = MS_PER_HOUR


class StockoutError(ModelError, ValueError):
    """Stock history that the forecaster cannot use."""


def japanese_factory_holiday(day: int) -> bool:
    """New Year (29 Dec-3 Jan), Golden Week (29 Apr-5 May) and Obon (13-16 Aug) closures."""
    date = from_day_number(day)
    m, d = date.month, date.day
    return (
        (m == 1 and d <= 3)
        or (m == 12 and d >= 29)
        or (m == 4 and d >= 29)
        or (m == 5 and d <= 5)
        or (m == 8 and 13 <= d <= 16)
    )


@dataclass(frozen=True, slots=True)
class StockoutForecast:
    """Hours until the level reaches empty: median and interval, and whether to reorder now."""

    now_ms: int
    level: float
    hours_median: float
    hours_low: float
    hours_high: float
    reorder: bool

    @property
    def stockout_ms(self) -> int:
        """Expected stock-out time (ms since epoch)."""
        return self.now_ms + round(self.hours_median * MS_PER_HOUR)


def _slots(hour_ms: IntArray, holidays: bool) -> IntArray:
    """Weekday (Mon=0) × 24 + local hour of each hour start; holidays map to Sunday."""
    local = hour_ms + JST_OFFSET_MS
    day = local // MS_PER_DAY
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday
    if holidays:
        off = np.fromiter((japanese_factory_holiday(int(d)) for d in day), bool, len(day))
        weekday = np.where(off, SUNDAY, weekday)
    return weekday * 24 + (local % MS_PER_DAY) // MS_PER_HOUR


@dataclass(frozen=True, slots=True)
class Delivery:
    """A recorded delivery into a bin: when, and how much (in the level's unit)."""

    at_ms: int
    quantity: float


def hourly_consumption(
    ts_ms: IntArray, level: FloatArray, deliveries: tuple[Delivery, ...] = ()
) -> tuple[IntArray, FloatArray]:
    """Hour starts and consumption per hour; NaN where the bin was refilled or empty, and in
    the hours around a recorded delivery."""
    order = np.argsort(ts_ms, kind="stable")
    ts, v = np.asarray(ts_ms, np.int64)[order], np.asarray(level, np.float64)[order]
    ok = np.isfinite(v)
    ts, v = ts[ok], v[ok]
    if len(v) >= MEDIAN_SAMPLES:
        # A rolling median removes 1-3 sample spikes that would look like a refill then use.
        half = MEDIAN_SAMPLES // 2
        padded = np.concatenate([np.full(half, v[0]), v, np.full(half, v[-1])])
        v = np.median(sliding_window_view(padded, MEDIAN_SAMPLES), axis=1)
    hour = ts // MS_PER_HOUR
    first, last = int(hour[0]), int(hour[-1])
    n = last - first + 1
    sums = np.bincount(hour - first, weights=v, minlength=n)
    counts = np.bincount(hour - first, minlength=n)
    mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    use = mean[:-1] - mean[1:]
    diffs = np.diff(v)
    noise = 1.4826 * float(np.median(np.abs(diffs - np.median(diffs)))) if len(diffs) else 0.0
    scale = max(float(np.nanmax(mean)) - float(np.nanmin(mean)), 1e-9)
    # A refill raises the level by far more than the sensor noise in an hour.
    refill = use < -max(6.0 * noise, 0.01 * scale)
    empty = np.minimum(mean[:-1], mean[1:]) <= max(3.0 * noise, 0.002 * scale)
    starts = (first + 1 + np.arange(n - 1, dtype=np.int64)) * MS_PER_HOUR
    delivered = np.zeros(len(use), dtype=bool)
    for d in deliveries:
        # `use[i]` is the change from the hour before `starts[i]` to the hour starting there.
        delivered |= (starts + MS_PER_HOUR > d.at_ms - DELIVERY_SLACK_MS) & (
            starts - MS_PER_HOUR <= d.at_ms + DELIVERY_SLACK_MS
        )
    use = np.where(refill | empty | delivered, np.nan, use)
    return starts, use


def fit_profile(
    hour_ms: IntArray, use: FloatArray, holidays: bool = True, iterations: int = 5
) -> FloatArray:
    """Expected use in each of 168 weekday-hour slots: weekday factor × hour shape."""
    slot = _slots(hour_ms, holidays)
    ok = np.isfinite(use)
    sums = np.bincount(slot[ok], weights=use[ok], minlength=168)
    counts = np.bincount(slot[ok], minlength=168)
    if counts.sum() == 0:
        raise StockoutError("no usable consumption in the history")
    raw = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan).reshape(7, 24)
    weight = counts.reshape(7, 24).astype(np.float64)
    day = np.ones(7)
    # An hour never seen on any weekday starts at 0 (nanmean would warn of an empty column).
    seen = counts.reshape(7, 24) > 0
    hour = np.where(seen, raw, 0.0).sum(axis=0) / np.maximum(seen.sum(axis=0), 1)
    filled = np.nan_to_num(raw, nan=0.0)
    for _ in range(iterations):
        # Weighted least squares for the rank-one model raw ≈ day ⊗ hour.
        day = (weight * filled * hour).sum(axis=1) / np.maximum(
            (weight * hour**2).sum(axis=1), 1e-12
        )
        hour = (weight * filled * day[:, None]).sum(axis=0) / np.maximum(
            (weight * day[:, None] ** 2).sum(axis=0), 1e-12
        )
    profile = np.maximum(np.outer(day, hour), 0.0)
    # Where a slot has several observations of its own, trust them over the rank-one fit.
    own = weight / (weight + 2.0)
    blended = np.where(weight > 0, own * np.maximum(filled, 0.0) + (1 - own) * profile, profile)
    return blended.ravel()


def _day_ratios(
    hour_ms: IntArray, use: FloatArray, expected: FloatArray
) -> tuple[IntArray, FloatArray]:
    """Local day and log ratio of use to the profile's expectation of each complete past day."""
    day = (hour_ms + JST_OFFSET_MS) // MS_PER_DAY
    ok = np.isfinite(use)
    days: list[int] = []
    out: list[float] = []
    floor = 0.02 * float(expected.max()) * 24
    for d in np.unique(day):
        sel = day == d
        if sel.sum() < 24 or ok[sel].mean() < 0.8:
            continue
        exp = float(expected[sel & ok].sum())
        got = float(use[sel & ok].sum())
        if exp > floor and got > 0.0:
            days.append(int(d))
            out.append(float(np.log(got / exp)))
    return np.array(days, dtype=np.int64), np.array(out)


def _robust_sigma(x: FloatArray) -> float:
    """Standard deviation estimated from the median absolute deviation."""
    return 1.4826 * float(np.median(np.abs(x - np.median(x)))) if len(x) else 0.0


def _fit_robust(
    hour_ms: IntArray, use: FloatArray, holidays: bool
) -> tuple[FloatArray, IntArray, FloatArray]:
    """Profile refitted without outlying days (rate changes, stuck sensors), and day ratios."""
    profile = fit_profile(hour_ms, use, holidays)
    slots = _slots(hour_ms, holidays)
    days, ratios = _day_ratios(hour_ms, use, profile[slots])
    if len(ratios) >= 5:
        spread = max(_robust_sigma(ratios), 0.05)
        centre = float(np.median(ratios))
        bad = days[np.abs(ratios - centre) > 3.0 * spread]
        if len(bad):
            day = (hour_ms + JST_OFFSET_MS) // MS_PER_DAY
            cleaned = np.where(np.isin(day, bad), np.nan, use)
            if np.isfinite(cleaned).sum() > 24:
                profile = fit_profile(hour_ms, cleaned, holidays)
                days, ratios = _day_ratios(hour_ms, use, profile[slots])
                use = cleaned
    return profile, days, _holdout_ratios(hour_ms, use, holidays, ratios)


def _holdout_ratios(
    hour_ms: IntArray, use: FloatArray, holidays: bool, fallback: FloatArray
) -> FloatArray:
    """Day ratios against profiles fitted without the day's own week (honest spread)."""
    week = (hour_ms + JST_OFFSET_MS) // (7 * MS_PER_DAY)
    weeks = np.unique(week)
    if len(weeks) < 3:
        return fallback
    slots = _slots(hour_ms, holidays)
    out: list[FloatArray] = []
    for w in weeks:
        mine = week == w
        try:
            profile = fit_profile(hour_ms[~mine], use[~mine], holidays)
        except StockoutError:
            continue
        out.append(_day_ratios(hour_ms[mine], use[mine], profile[slots[mine]])[1])
    return np.concatenate(out) if out else fallback


def forecast_stockout(
    ts_ms: npt.ArrayLike,
    level: npt.ArrayLike,
    now_ms: int | None = None,
    *,
    empty_level: float = 0.0,
    lead_time_h: float = 24.0,
    coverage: float = 0.8,
    max_hours: float = 24.0 * 28,
    holidays: bool = True,
    spread: float = SPREAD,
    seed: int = 0,
    deliveries: tuple[Delivery, ...] = (),
    margin: float | None = None,
) -> StockoutForecast:
    """Forecast when a bin runs empty from its readings up to `now_ms` (default: the last).

    `deliveries` are the recorded ones: those up to now mark rises that are not use, those
    after now (expected) add their quantity to the stock in the hour they are due. `margin`
    widens the interval in log hours; by default the calibrated one for 80 % and none else.
    """
    ts = np.asarray(ts_ms, dtype=np.int64)
    v = np.asarray(level, dtype=np.float64)
    if ts.shape != v.shape or ts.ndim != 1:
        raise StockoutError("timestamps and levels must be 1-D arrays of equal length")
    now = int(ts.max()) if now_ms is None else int(now_ms)
    keep = ts <= now
    ts, v = ts[keep], v[keep]
    if len(ts) < 2 or (int(ts.max()) - int(ts.min())) < MIN_HISTORY_H * MS_PER_HOUR:
        raise StockoutError(f"need at least {MIN_HISTORY_H} h of readings before now")
    past = tuple(d for d in deliveries if d.at_ms <= now)
    hour_ms, use = hourly_consumption(ts, v, past)
    profile, _, log_ratios = _fit_robust(hour_ms, use, holidays)
    expected_past = profile[_slots(hour_ms, holidays)]
    sigma = max(float(np.std(log_ratios, ddof=1)), 0.05) if len(log_ratios) >= 5 else 0.3
    # Days after the history can bring what it never showed (rate changes, theft, sensor
    # faults); a wider spread, calibrated on development simulations, keeps the coverage.
    sigma *= spread
    # A regime shift (two latest complete days far off the same side) moves the whole level.
    level_shift = 0.0
    recent_ratios = log_ratios[-2:]
    if len(recent_ratios) == 2 and (
        np.all(recent_ratios > 3.0 * sigma) or np.all(recent_ratios < -3.0 * sigma)
    ):
        level_shift = float(np.mean(recent_ratios))
    # The profile itself is a mean of a few weeks; its error is shared by all future days.
    weeks = max(len(log_ratios) / 7.0, 1.0)
    current = _current_level(ts, v, now, profile, holidays) - empty_level
    # Hourly use scatters around the profile beyond the daily factor (item-sized steps, sensor
    # noise): a variance proportional to the expected use, estimated from the history.
    ok = np.isfinite(use) & (expected_past > 0)
    resid = use[ok] - expected_past[ok]
    dispersion = float(np.sum(resid**2) / max(np.sum(expected_past[ok]), 1e-12))
    steps = int(np.ceil(max_hours))
    # Hour 0 is the rest of the current hour; later entries are whole hours.
    this_hour = now // MS_PER_HOUR * MS_PER_HOUR
    future_ms = this_hour + MS_PER_HOUR * np.arange(steps, dtype=np.int64)
    rate = profile[_slots(future_ms, holidays)].copy()
    rate[0] *= 1.0 - (now - this_hour) / MS_PER_HOUR
    local_day = (future_ms + JST_OFFSET_MS) // MS_PER_DAY
    day_index = local_day - local_day[0]
    rng = np.random.default_rng(seed)
    shared = sigma / np.sqrt(weeks) * rng.standard_normal((PATHS, 1))
    daily = sigma * rng.standard_normal((PATHS, int(day_index[-1]) + 1))
    mult = np.exp(level_shift + shared + daily - 0.5 * sigma**2)
    # Today's use so far says how busy today is; shrink it by how much of today we have seen.
    today = (hour_ms + JST_OFFSET_MS) // MS_PER_DAY == local_day[0]
    seen = float(np.nansum(expected_past[today & np.isfinite(use)]))
    whole = float(profile[_slots(future_ms[:24] - (now - this_hour), holidays)].sum())
    if seen > 0.0 and whole > 0.0:
        got = float(np.nansum(use[today]))
        w = seen / (seen + 0.25 * whole)
        log_today = w * np.log(max(got, 1e-9) / seen)
        mult[:, 0] = np.exp(log_today + (1.0 - w) * (level_shift + daily[:, 0]) + shared[:, 0])
    mean_use = rate[None, :] * mult[:, day_index]
    jitter = np.sqrt(dispersion * mean_use) * rng.standard_normal(mean_use.shape)
    paths = np.maximum.accumulate(np.cumsum(np.maximum(mean_use + jitter, 0.0), axis=1), axis=1)
    arrivals = np.zeros(steps)
    for d in deliveries:
        if now < d.at_ms < this_hour + steps * MS_PER_HOUR and d.quantity > 0:
            arrivals[(d.at_ms - this_hour) // MS_PER_HOUR] += d.quantity
    first_h = (now - this_hour) / MS_PER_HOUR
    if arrivals.any():
        # Stock runs out when use so far exceeds the stock now plus what has arrived by then.
        available = current + np.cumsum(arrivals)
        hours = np.array([_crossing_of(p, available) for p in paths]) - first_h
        hours = np.maximum(hours, 0.0)
    elif current <= 0.0:
        hours = np.zeros(PATHS)
    else:
        hours = np.array([_crossing(p, current) for p in paths]) - first_h
    tail = (1.0 - coverage) / 2.0
    low, med, high = np.quantile(hours, [tail, 0.5, 1.0 - tail])
    if margin is None:
        margin = INTERVAL_MARGIN if coverage == 0.8 else 0.0  # the level calibrated for
    low, high = widen(float(low), float(high), margin)
    med = min(max(float(med), low), high)
    return StockoutForecast(
        now_ms=now,
        level=current + empty_level,
        hours_median=float(med),
        hours_low=float(low),
        hours_high=float(high),
        reorder=bool(low < lead_time_h),
    )


def _current_level(
    ts: IntArray, v: FloatArray, now: int, profile: FloatArray, holidays: bool
) -> float:
    """Level now: the last readings, each moved forward by the profile's use since it was taken."""
    recent = np.flatnonzero(ts >= now - MS_PER_HOUR)[-MEDIAN_SAMPLES:]
    if not len(recent):
        recent = np.arange(max(len(ts) - MEDIAN_SAMPLES, 0), len(ts))
    hourly_rate = profile[_slots(ts[recent] // MS_PER_HOUR * MS_PER_HOUR, holidays)]
    since_h = (now - ts[recent]) / MS_PER_HOUR
    return float(np.median(v[recent] - hourly_rate * since_h))


def _crossing(cumulative: FloatArray, level: float) -> float:
    """Hours (from the start of the current hour) until cumulative use reaches `level`."""
    i = int(np.searchsorted(cumulative, level))
    if i >= len(cumulative):
        return float(len(cumulative))
    before = float(cumulative[i - 1]) if i > 0 else 0.0
    step = float(cumulative[i]) - before
    return i + ((level - before) / step if step > 0 else 0.0)


def _crossing_of(cumulative: FloatArray, available: FloatArray) -> float:
    """Hours (from the start of the current hour) until cumulative use reaches the stock
    available by then (the stock now plus the deliveries arrived)."""
    over = np.flatnonzero(cumulative >= available)
    if not len(over):
        return float(len(cumulative))
    i = int(over[0])
    before = float(cumulative[i - 1]) if i > 0 else 0.0
    step = float(cumulative[i]) - before
    share = (float(available[i]) - before) / step if step > 0 else 0.0
    return i + float(np.clip(share, 0.0, 1.0))


def naive_stockout(
    ts_ms: npt.ArrayLike, level: npt.ArrayLike, now_ms: int, days: float = 7.0
) -> float:
    """Baseline: hours to empty at the constant mean use rate of the last `days` days."""
    ts = np.asarray(ts_ms, dtype=np.int64)
    v = np.asarray(level, dtype=np.float64)
    keep = (ts <= now_ms) & (ts > now_ms - days * MS_PER_DAY)
    _, use = hourly_consumption(ts[keep], v[keep])
    ok = np.isfinite(use)
    rate = float(use[ok].mean()) if ok.any() else 0.0
    current = float(np.median(v[keep][-5:]))
    return float("inf") if rate <= 0.0 else max(current, 0.0) / rate


class StockoutForecaster(OnlineLearner[[int, float]]):
    """Online per-bin forecaster: `learn_one` each reading, `forecast_one` when asked."""

    def __init__(
        self,
        window_days: float = 28.0,
        lead_time_h: float = 24.0,
        empty_level: float = 0.0,
        coverage: float = 0.8,
        holidays: bool = True,
    ) -> None:
        """Store the parameters; the history starts empty."""
        self.window_days = window_days
        self.lead_time_h = lead_time_h
        self.empty_level = empty_level
        self.coverage = coverage
        self.holidays = holidays
        self._ts: deque[int] = deque()
        self._values: deque[float] = deque()

    def learn_one(self, ts_ms: int, value: float) -> None:
        """Add one reading and forget readings older than the window."""
        self._ts.append(int(ts_ms))
        self._values.append(float(value))
        horizon = int(ts_ms) - int(self.window_days * MS_PER_DAY)
        while self._ts and self._ts[0] < horizon:
            self._ts.popleft()
            self._values.popleft()

    def forecast_one(self, now_ms: int | None = None) -> StockoutForecast:
        """Forecast from the readings learned so far."""
        return forecast_stockout(
            np.fromiter(self._ts, np.int64, len(self._ts)),
            np.fromiter(self._values, np.float64, len(self._values)),
            now_ms,
            empty_level=self.empty_level,
            lead_time_h=self.lead_time_h,
            coverage=self.coverage,
            holidays=self.holidays,
        )
