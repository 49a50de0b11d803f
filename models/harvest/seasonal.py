"""Forecasts from season-only weather: other years' calendar climatology, then a fitted correction.

A farm often logs weather only while a crop is in the ground, one field per season: no field has
other years of its own. The days ahead of a season then take the mean of the same calendar days
over the tenant's other fields of other years (never the season's own year: a field logged this
year knows this year's future). Such a climatology is biased (late calendar days are covered
mostly by the slow, cold seasons that were still logging) and ignores how warm the season has
been so far. Both are learned: every training season is forecast as of several shares of the
crop's usual length with the climatology of the other years, and per share a line
residual = b0 + b1 × (mean temperature anomaly since planting) is fitted. Split-conformal
bounds come from the leave-one-out residuals of that line (Vovk et al. 2005, "Algorithmic
Learning in a Random World"; Lei et al. 2018, "Distribution-free predictive inference for
regression", JASA 113), so the intervals are calibrated on seasons the line did not see.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.conformal import conformal_quantile
from models.harvest.types import FieldWeather, FloatArray

SHARES = tuple(round(0.1 * k, 1) for k in range(1, 11))
DAYS_OF_YEAR = 366
# Ridge penalty on the anomaly slope (days per °C, per season): keeps the line stable when
# the seasons so far were all about equally warm.
SLOPE_PENALTY = 1.0
# Calendar days no row covers are interpolated across gaps up to this long; a longer gap stays
# unknown, and the forecast falls back (and says so) rather than invent weeks of weather.
MAX_GAP_DAYS = 14


@dataclass(frozen=True, slots=True)
class CalendarTable:
    """Daily weather of every (record, year) row by day of year: (rows × 366 × 5), NaN unseen."""

    years: np.ndarray
    values: FloatArray

    def climatology(self, start: int, n: int, exclude_year: int) -> FloatArray:
        """(n × 5) mean path from day number `start` over the rows of other years."""
        _, doys = _calendar(start + np.arange(n))
        keep = self.years != exclude_year
        if not keep.any():
            return np.full((n, 5), np.nan)
        return _mean_by_doy(self.values[keep])[doys]


def _calendar(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Year and 0-based day of year of day numbers (days since 1970-01-01)."""
    d64 = np.datetime64("1970-01-01", "D") + days.astype("timedelta64[D]")
    first = d64.astype("datetime64[Y]")
    years = first.astype(np.int64) + 1970
    doys = (d64 - first.astype("datetime64[D]")).astype(np.int64)
    return years, np.minimum(doys, DAYS_OF_YEAR - 1)


def _mean_by_doy(values: FloatArray) -> FloatArray:
    """Mean over rows per day of year, gaps interpolated over the days of year seen."""
    ok = np.isfinite(values)
    count = ok.sum(axis=0)
    mean = np.where(count > 0, np.where(ok, values, 0.0).sum(axis=0) / np.maximum(count, 1), np.nan)
    idx = np.arange(DAYS_OF_YEAR)
    for j in range(mean.shape[1]):
        seen = np.isfinite(mean[:, j])
        if seen.any() and not seen.all():
            prev = np.maximum.accumulate(np.where(seen, idx, -DAYS_OF_YEAR))
            nxt = np.minimum.accumulate(np.where(seen, idx, 2 * DAYS_OF_YEAR)[::-1])[::-1]
            short = ~seen & (nxt - prev - 1 <= MAX_GAP_DAYS)
            mean[short, j] = np.interp(idx[short], idx[seen], mean[seen, j])
    return mean


def calendar_table(records: list[FieldWeather]) -> CalendarTable:
    """Every record's days laid out by year and day of year."""
    years_out: list[int] = []
    rows: list[FloatArray] = []
    for record in records:
        days = record.first_day + np.arange(len(record.tmin))
        years, doys = _calendar(days)
        table = record.table()
        for year in np.unique(years).tolist():
            sel = years == year
            row = np.full((DAYS_OF_YEAR, 5), np.nan)
            row[doys[sel]] = table[sel]
            years_out.append(int(year))
            rows.append(row)
    if not rows:
        return CalendarTable(np.empty(0, dtype=np.int64), np.empty((0, DAYS_OF_YEAR, 5)))
    return CalendarTable(np.array(years_out), np.stack(rows))


def year_of(day: int) -> int:
    """Calendar year of a day number."""
    return int(_calendar(np.array([day]))[0][0])


def temperature_anomaly(known: FloatArray, clim: FloatArray, lo: int, hi: int) -> float:
    """Mean daily-mean temperature of known rows lo..hi minus the climatology's, 0 if none."""
    tm = 0.5 * (known[lo:hi, 0] + known[lo:hi, 1])
    ref = 0.5 * (clim[lo:hi, 0] + clim[lo:hi, 1])
    diff = tm - ref
    ok = np.isfinite(diff)
    return float(diff[ok].mean()) if ok.any() else 0.0


@dataclass(frozen=True, slots=True)
class ShareCorrection:
    """The fitted line and conformal bounds at one share of the season known."""

    intercept: float
    slope: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class SeasonCorrection:
    """Per share of the season known, how far climatology forecasts miss, and their spread."""

    shares: dict[float, ShareCorrection]

    def at(self, share: float) -> ShareCorrection:
        """The correction of the nearest fitted share."""
        key = min(self.shares, key=lambda s: abs(s - share))
        return self.shares[key]


def fit_share(
    residuals: FloatArray, anomaly: FloatArray, coverage: float, groups: np.ndarray | None = None
) -> ShareCorrection:
    """Ridge line of residuals on anomaly; split-conformal bounds from its residuals on the
    seasons left out, one group at a time (seasons of one year share their weather, so a year
    is left out whole: its sibling season would otherwise vouch for it)."""
    n = len(residuals)
    keys = np.arange(n) if groups is None else np.asarray(groups)
    coef = _ridge_line(residuals, anomaly)
    held = np.empty(n)
    for key in np.unique(keys):
        out = keys == key
        if out.all():
            held[out] = residuals[out] - (coef[0] + coef[1] * anomaly[out])
            continue
        c = _ridge_line(residuals[~out], anomaly[~out])
        held[out] = residuals[out] - (c[0] + c[1] * anomaly[out])
    width = conformal_quantile(np.abs(held), coverage)
    return ShareCorrection(float(coef[0]), float(coef[1]), -width, width)


def _ridge_line(residuals: FloatArray, anomaly: FloatArray) -> FloatArray:
    """Intercept and slope of residual on anomaly, the slope ridge-penalised."""
    n = len(residuals)
    x = np.column_stack([np.ones(n), anomaly])
    penalty = np.diag([0.0, SLOPE_PENALTY * n])
    result: FloatArray = np.linalg.solve(x.T @ x + penalty, x.T @ residuals)
    return result


def covered(clim: FloatArray, start: int, need: int) -> FloatArray | None:
    """`clim` if rows start..need have temperatures, other gaps holding the nearest day seen.

    Days before planting (start) and past `need` barely matter to the forecast, so they may hold
    the nearest covered day; a gap in between means no other year covers the season: None.
    """
    if not np.isfinite(clim[start:need, :2]).all():
        return None
    out = clim.copy()
    for j in range(out.shape[1]):
        col = out[:, j]
        seen = np.flatnonzero(np.isfinite(col))
        if len(seen) and len(seen) < len(col):
            last = np.maximum.accumulate(np.where(np.isfinite(col), np.arange(len(col)), seen[0]))
            out[:, j] = col[last]
    return out
