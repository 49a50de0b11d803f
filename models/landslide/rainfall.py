"""Rain series: the regular step of a time column, 60-minute rainfall, gauge counter totals."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence

import numpy as np

from models.landslide.errors import LandslideError

R60_MINUTES = 60.0


def _minutes(delta: dt.timedelta) -> float:
    """A time difference in minutes."""
    return delta.total_seconds() / 60.0


def regular_step(times: Sequence[dt.datetime], *, step_minutes: float | None = None) -> float:
    """The series' step in minutes; refuses unsorted, repeated or missing times (gaps).

    Without `step_minutes` the step is the smallest difference between neighbouring times, so
    that a gap is reported as a gap rather than taken for the step.
    """
    if len(times) < 2 and step_minutes is None:
        raise LandslideError(
            "時間間隔を推定するには 2 行以上必要です (--step で指定できます)",
            "at least two rows are needed to detect the time step (or give --step)",
        )
    diffs = [_minutes(b - a) for a, b in itertools.pairwise(times)]
    for i, d in enumerate(diffs):
        if d <= 0:
            raise LandslideError(
                f"時刻が昇順ではありません: {times[i + 1].isoformat()} が "
                f"{times[i].isoformat()} の後にあります",
                f"times are not in increasing order: {times[i + 1].isoformat()} follows "
                f"{times[i].isoformat()}",
            )
    step = step_minutes if step_minutes is not None else min(diffs)
    if not step > 0:
        raise LandslideError("時間間隔は正の値にしてください", "the time step must be positive")
    for i, d in enumerate(diffs):
        # Whole seconds: timestamps are logged to the second.
        if abs(d - step) * 60.0 >= 1.0:
            raise LandslideError(
                f"欠測または不規則な間隔: {times[i].isoformat()} から {times[i + 1].isoformat()} "
                f"まで {d:g} 分 (間隔 {step:g} 分)",
                f"gap or irregular step: {d:g} min from {times[i].isoformat()} to "
                f"{times[i + 1].isoformat()} (step {step:g} min)",
            )
    return float(step)


def window_steps(step_minutes: float, window_minutes: float = R60_MINUTES) -> int:
    """How many steps make up the window; the step must divide it."""
    count = round(window_minutes / step_minutes)
    if count < 1 or abs(count * step_minutes - window_minutes) > 1e-6:
        raise LandslideError(
            f"{window_minutes:g} 分間雨量には {window_minutes:g} 分を割り切る時間間隔が必要です "
            f"({step_minutes:g} 分)",
            f"{window_minutes:g}-minute rainfall needs a step that divides {window_minutes:g} "
            f"minutes ({step_minutes:g} min)",
        )
    return count


def moving_sum(
    rain_mm: Sequence[float] | np.ndarray,
    *,
    step_minutes: float,
    window_minutes: float = R60_MINUTES,
) -> np.ndarray:
    """Rain in the window ending at each step (the step's own rain included).

    The first steps sum what is there: a series starts as if it had been dry before.
    """
    rain = np.asarray(rain_mm, dtype=float)
    count = window_steps(step_minutes, window_minutes)
    total = np.concatenate(([0.0], np.cumsum(rain)))
    start = np.maximum(np.arange(1, rain.size + 1) - count, 0)
    # Differences of a running sum drift by rounding; a dry window must read exactly zero.
    return np.asarray(np.maximum(total[1:] - total[start], 0.0))


def r60(rain_mm: Sequence[float] | np.ndarray, *, step_minutes: float) -> np.ndarray:
    """60-minute rainfall (60分間積算雨量) at each step."""
    return moving_sum(rain_mm, step_minutes=step_minutes, window_minutes=R60_MINUTES)


def from_cumulative(totals_mm: Sequence[float] | np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Rain per step from a gauge's running total, and the rows where the counter was reset.

    A total below the previous one means the counter restarted from zero (power cycle, logger
    reset, rollover), so the rain since the reset is the new total itself. The first row has no
    earlier total and counts as dry.
    """
    totals = np.asarray(totals_mm, dtype=float)
    bad = np.flatnonzero(~np.isfinite(totals) | (totals < 0))
    if bad.size:
        raise LandslideError(
            f"{bad[0] + 1} 番目の累積雨量が負または欠測です ({totals[bad[0]]})",
            f"gauge total {bad[0] + 1} is negative or missing ({totals[bad[0]]})",
        )
    rain = np.zeros(totals.size)
    if totals.size < 2:
        return rain, []
    diff = np.diff(totals)
    resets = np.flatnonzero(diff < 0) + 1
    rain[1:] = diff
    rain[resets] = totals[resets]
    return rain, resets.tolist()
