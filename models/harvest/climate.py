"""Season weather windows: observed days up to the as-of date, analog years after it.

The unknown rest of a season is taken from the same calendar days of other years of the field
(analog years): their spread is the uncertainty of the remaining weather and their mean is the
climatology. The season's own year is never an analog, so a training season does not see its
own future.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from core.time import day_number, from_day_number
from models.harvest.types import FieldWeather, FloatArray

# Windows start this many days before planting: frost around planting or bloom matters.
PRE_DAYS = 10
MIN_COVERAGE = 0.9


def _date(day: int) -> dt.date:
    """Day number as a date."""
    return from_day_number(day)


def window(record: FieldWeather, start: int, n: int) -> FloatArray:
    """(n × 5) daily table from day `start`; NaN outside the record."""
    out = np.full((n, 5), np.nan)
    lo, hi = max(start, record.first_day), min(start + n, record.last_day + 1)
    if lo < hi:
        out[lo - start : hi - start] = record.table()[lo - record.first_day : hi - record.first_day]
    return out


def _same_day_in(year: int, date: dt.date) -> dt.date:
    """The same month and day in another year (28 February for 29 February)."""
    try:
        return date.replace(year=year)
    except ValueError:
        return date.replace(year=year, day=28)


def analog_windows(records: list[FieldWeather], planting: int, n: int) -> FloatArray:
    """(members × n × 5) windows starting PRE_DAYS before planting in other years of records."""
    start = _date(planting - PRE_DAYS)
    members: list[FloatArray] = []
    for record in records:
        first, last = _date(record.first_day).year, _date(record.last_day).year
        for year in range(first - 1, last + 1):
            if year == start.year:
                continue
            day = day_number(_same_day_in(year, start))
            member = window(record, day, n)
            ok = np.isfinite(member[:, 0]) & np.isfinite(member[:, 1])
            if ok.mean() >= MIN_COVERAGE:
                members.append(member)
    if not members:
        return np.empty((0, n, 5))
    stacked = np.stack(members)
    # Short gaps in an analog year take the other members' mean for that day.
    mean = _nanmean0(stacked)
    return np.where(np.isnan(stacked), mean[None], stacked)


def _nanmean0(x: FloatArray) -> FloatArray:
    """Mean over axis 0 ignoring NaN, NaN where every value is NaN (without warnings)."""
    ok = np.isfinite(x)
    total = np.where(ok, x, 0.0).sum(axis=0)
    count = ok.sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def fill_known(actual: FloatArray, members: FloatArray) -> FloatArray:
    """Observed window with its gaps filled from the analog mean, else by interpolation."""
    out = actual.copy()
    if len(members):
        mean = _nanmean0(members)
        out = np.where(np.isnan(out), mean, out)
    for j in range(out.shape[1]):
        col = out[:, j]
        ok = np.isfinite(col)
        if ok.any() and not ok.all():
            idx = np.arange(len(col))
            out[:, j] = np.where(ok, col, np.interp(idx, idx[ok], col[ok]))
    return out


def compose(known: FloatArray, members: FloatArray, known_n: int) -> FloatArray:
    """Members whose first `known_n` days are the observed ones."""
    if not len(members):
        return known[None].copy()
    out = members.copy()
    out[:, :known_n] = known[None, :known_n]
    return out


def expected_path(known: FloatArray, members: FloatArray, known_n: int) -> FloatArray:
    """Observed days, then the analog mean (climatology)."""
    out = known.copy()
    if len(members):
        mean = _nanmean0(members)
        out[known_n:] = mean[known_n:]
    return out


def persistence(records: list[FieldWeather], days: int = 21, horizon: int = 60) -> float:
    """Regression slope of the next `horizon` days' temperature anomaly on the last `days`'.

    Warm or cold spells and seasons persist for weeks; the slope says how much of the anomaly
    seen so far to carry into the rest of the season. Clipped to [0, 1].
    """
    xs: list[float] = []
    ys: list[float] = []
    for record in records:
        tm = 0.5 * (record.tmin + record.tmax)
        if np.isfinite(tm).sum() < 2 * 365:
            continue
        doy = np.array(
            [_date(record.first_day + i).timetuple().tm_yday - 1 for i in range(len(tm))]
        )
        doy = np.minimum(doy, 364)
        normal = np.array([np.nanmean(tm[doy == d]) for d in range(365)])
        kernel = np.ones(15) / 15.0
        normal = np.convolve(np.r_[normal[-7:], normal, normal[:7]], kernel, mode="valid")
        anomaly = tm - normal[doy]
        for t in range(days, len(tm) - horizon, 7):
            past, future = anomaly[t - days : t], anomaly[t : t + horizon]
            if np.isfinite(past).all() and np.isfinite(future).all():
                xs.append(float(past.mean()))
                ys.append(float(future.mean()))
    if len(xs) < 20:
        return 0.0
    x, y = np.array(xs), np.array(ys)
    slope = float(np.sum((x - x.mean()) * (y - y.mean())) / max(np.sum((x - x.mean()) ** 2), 1e-9))
    return float(np.clip(slope, 0.0, 1.0))


def shift_future(paths: FloatArray, known_n: int, shift: float) -> FloatArray:
    """Members with tmin and tmax after the known days moved by `shift` °C."""
    out = paths.copy()
    out[:, known_n:, :2] += shift
    return out


def anomaly_shift(known: FloatArray, members: FloatArray, known_n: int, days: int = 21) -> float:
    """Mean temperature anomaly of the last `days` observed days against the analogs."""
    if not len(members) or known_n <= PRE_DAYS:
        return 0.0
    lo = max(known_n - days, 0)
    observed = 0.5 * (known[lo:known_n, 0] + known[lo:known_n, 1])
    normal = 0.5 * (members[:, lo:known_n, 0] + members[:, lo:known_n, 1]).mean(axis=0)
    diff = observed - normal
    return float(np.nanmean(diff)) if np.isfinite(diff).any() else 0.0


def calendar_climatology(
    records: list[FieldWeather], planting: int, n: int, seen: FloatArray
) -> FloatArray:
    """One (1 × n × 5) member: the mean of every record's same calendar days, any coverage.

    For season-only weather (each field logged from sowing to harvest, no other years) no
    record covers a whole analog window, but together they cover the calendar days ahead. Days
    no record covers take the mean of the days seen so far in `seen` (n × 5, NaN unseen).
    """
    start = _date(planting - PRE_DAYS)
    windows: list[FloatArray] = []
    for record in records:
        first, last = _date(record.first_day).year, _date(record.last_day).year
        for year in range(first - 1, last + 1):
            member = window(record, day_number(_same_day_in(year, start)), n)
            if np.isfinite(member[:, 0]).any():
                windows.append(member)
    mean = _nanmean0(np.stack(windows)) if windows else np.full((n, 5), np.nan)
    fill = _nanmean0(seen)  # per column over the seen days
    fill = np.where(np.isfinite(fill), fill, _nanmean0(mean))
    return np.where(np.isnan(mean), fill[None, :], mean)[None]
