"""Thermal-time phenology fitted per crop: base and cap temperatures, one or two phases.

Daily thermal time is g = max(min(Tm, cap) - base, 0) with Tm = tmin + w (tmax - tmin); the
daily mean of a real diurnal curve sits below (tmin + tmax) / 2, so w is fitted too. A crop
matures when the sum since planting reaches a threshold; a two-phase crop (rice: heading, then
grain filling at a different base) switches to a second sum when the first reaches its own
threshold. A calendar deadline (apples picked by a fixed date whatever their state) is learned
when several training seasons end on the same, latest day of the year. Parameters come from a
grid search that minimises the mean absolute error of the maturity day with observed weather.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, replace

import numpy as np

from core.time import from_day_number
from models.harvest.types import FloatArray, PhenologyKind

NO_CAP = 99.0
ONE_PHASE_BASES = np.arange(-2.0, 14.0, 1.0)
ONE_PHASE_CAPS = (18.0, 21.0, 24.0, 27.0, 30.0, 33.0, NO_CAP)
WEIGHTS = (0.35, 0.4, 0.45, 0.5, 0.55)
TWO_PHASE_BASES = np.arange(5.0, 14.0, 1.0)
TWO_PHASE_CAPS = (27.0, 30.0, 33.0, NO_CAP)
SECOND_BASES = (0.0, 3.0, 6.0)
FIRST_SHARES = tuple(np.arange(0.3, 0.91, 0.05).tolist())
# A two-phase model has three more parameters; demand a clear relative gain before using it.
TWO_PHASE_GAIN = 0.15
MIN_TWO_PHASE_SEASONS = 8
DEADLINE_MIN_SHARE = 0.1


@dataclass(frozen=True, slots=True)
class ThermalTime:
    """A fitted phenology model of one crop."""

    kind: PhenologyKind
    weight: float
    base: float
    cap: float
    threshold: float
    base2: float = 0.0
    threshold2: float = 0.0
    deadline_doy: int | None = None
    residuals: tuple[float, ...] = ()

    def mean_temperature(self, tmin: FloatArray, tmax: FloatArray) -> FloatArray:
        """The model's daily mean temperature."""
        return tmin + self.weight * (tmax - tmin)

    def maturity_index(
        self, tmin: FloatArray, tmax: FloatArray, deadline: FloatArray | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """Maturity and mid-season (heading) day index of each row; the row length if never."""
        tm = self.mean_temperature(np.atleast_2d(tmin), np.atleast_2d(tmax))
        n = tm.shape[1]
        cum = np.cumsum(np.maximum(np.minimum(tm, self.cap) - self.base, 0.0), axis=1)
        first = _first_reach(cum, np.full(len(cum), self.threshold))
        if self.kind is PhenologyKind.ONE_PHASE:
            mature = first
            mid = first
        else:
            cum2 = np.cumsum(np.maximum(tm - self.base2, 0.0), axis=1)
            h = np.minimum(first, n - 1).astype(np.int64)
            start = np.take_along_axis(cum2, h[:, None], axis=1)[:, 0] - np.maximum(
                tm[np.arange(len(tm)), h] - self.base2, 0.0
            )
            mature = np.where(first >= n, n, _first_reach(cum2, start + self.threshold2))
            mid = first
        if deadline is not None:
            mature = np.minimum(mature, deadline)
        return mature.astype(np.float64), mid.astype(np.float64)


def _first_reach(cum: FloatArray, target: FloatArray) -> FloatArray:
    """Per row, the first column where `cum` reaches `target`; the row length if never."""
    hit = cum >= target[:, None]
    idx = np.argmax(hit, axis=1)
    return np.where(hit.any(axis=1), idx, cum.shape[1]).astype(np.float64)


def deadline_index(planting: np.ndarray, deadline_doy: int | None) -> FloatArray | None:
    """Days from planting to the crop's calendar deadline in the planting year (or the next)."""
    if deadline_doy is None:
        return None
    out = np.empty(len(planting))
    for i, day in enumerate(np.asarray(planting).tolist()):
        date = from_day_number(day)
        last = dt.date(date.year, 1, 1) + dt.timedelta(days=deadline_doy - 1)
        if last <= date:
            last = dt.date(date.year + 1, 1, 1) + dt.timedelta(days=deadline_doy - 1)
        out[i] = (last - date).days
    return out


def find_deadline(planting: np.ndarray, maturity: np.ndarray) -> int | None:
    """The latest day of year seasons end on, if enough seasons end exactly there."""
    doys = np.array([from_day_number(d).timetuple().tm_yday for d in np.asarray(maturity).tolist()])
    latest = int(doys.max())
    at_latest = int(np.sum(doys == latest))
    if at_latest >= 2 and at_latest >= DEADLINE_MIN_SHARE * len(doys):
        return latest
    return None


def _score(
    model: ThermalTime, tmin: FloatArray, tmax: FloatArray, days: FloatArray, cap: FloatArray | None
) -> float:
    """Mean absolute error (days) of the model's maturity index."""
    mature, _ = model.maturity_index(tmin, tmax, cap)
    return float(np.mean(np.abs(mature - days)))


def _one_phase_threshold(
    tm: FloatArray, base: float, cap: float, days: np.ndarray, free: np.ndarray
) -> float:
    """Median thermal time at maturity over seasons that were not cut short by a deadline."""
    cum = np.cumsum(np.maximum(np.minimum(tm, cap) - base, 0.0), axis=1)
    return float(np.median(cum[np.arange(len(cum)), days][free]))


def fit_thermal_time(
    tmin: FloatArray,
    tmax: FloatArray,
    days: np.ndarray,
    planting: np.ndarray,
    maturity: np.ndarray,
) -> ThermalTime:
    """Grid-search a one- or two-phase thermal-time model on seasons of one crop.

    `tmin` and `tmax` are (seasons × days) from planting on; `days` is each season's length.
    """
    days = np.asarray(days, dtype=np.int64)
    deadline_doy = find_deadline(planting, maturity)
    cap_idx = deadline_index(planting, deadline_doy)
    free = np.ones(len(days), dtype=bool) if cap_idx is None else days < cap_idx
    if not free.any():
        free[:] = True
    best: tuple[float, ThermalTime] | None = None
    for w in WEIGHTS:
        tm = tmin + w * (tmax - tmin)
        for base, cap in itertools.product(ONE_PHASE_BASES, ONE_PHASE_CAPS):
            thr = _one_phase_threshold(tm, base, cap, days, free)
            if thr <= 0.0:
                continue
            model = ThermalTime(PhenologyKind.ONE_PHASE, w, float(base), cap, thr, 0.0, 0.0)
            score = _score(model, tmin, tmax, days, cap_idx)
            if best is None or score < best[0]:
                best = (score, model)
    if best is None:
        raise ValueError("no thermal-time model fits: temperatures never exceed the bases")
    best = _refine(best, tmin, tmax, days, free=free, cap_idx=cap_idx)
    if len(days) >= MIN_TWO_PHASE_SEASONS:
        two = _fit_two_phase(tmin, tmax, days, free=free, cap_idx=cap_idx, weight=best[1].weight)
        if two is not None and two[0] < (1.0 - TWO_PHASE_GAIN) * best[0]:
            best = two
    model = replace(best[1], deadline_doy=deadline_doy)
    mature, _ = model.maturity_index(tmin, tmax, cap_idx)
    return replace(model, residuals=tuple((days - mature).tolist()))


def _refine(
    best: tuple[float, ThermalTime],
    tmin: FloatArray,
    tmax: FloatArray,
    days: np.ndarray,
    *,
    free: np.ndarray,
    cap_idx: FloatArray | None,
) -> tuple[float, ThermalTime]:
    """A finer grid around the best one-phase model."""
    centre = best[1]
    for dw, db, dc in itertools.product(
        (-0.025, 0.0, 0.025), np.arange(-0.75, 0.76, 0.25), (-1.5, 0.0, 1.5)
    ):
        w, base = centre.weight + dw, centre.base + db
        cap = centre.cap if centre.cap >= NO_CAP else centre.cap + dc
        tm = tmin + w * (tmax - tmin)
        thr = _one_phase_threshold(tm, base, cap, days, free)
        if thr <= 0.0:
            continue
        model = ThermalTime(PhenologyKind.ONE_PHASE, w, float(base), float(cap), thr)
        score = _score(model, tmin, tmax, days, cap_idx)
        if score < best[0]:
            best = (score, model)
    return best


def _fit_two_phase(
    tmin: FloatArray,
    tmax: FloatArray,
    days: np.ndarray,
    *,
    free: np.ndarray,
    cap_idx: FloatArray | None,
    weight: float,
) -> tuple[float, ThermalTime] | None:
    """Grid-search a two-phase model; the second threshold is the median of its sums."""
    rows = np.arange(len(days))
    tm = tmin + weight * (tmax - tmin)
    best: tuple[float, ThermalTime] | None = None
    for base, cap, base2 in itertools.product(TWO_PHASE_BASES, TWO_PHASE_CAPS, SECOND_BASES):
        cum1 = np.cumsum(np.maximum(np.minimum(tm, cap) - base, 0.0), axis=1)
        g2 = np.maximum(tm - base2, 0.0)
        cum2 = np.cumsum(g2, axis=1)
        total = float(np.median(cum1[rows, days][free]))
        for share in FIRST_SHARES:
            thr1 = share * total
            if thr1 <= 0.0:
                continue
            h = _first_reach(cum1, np.full(len(days), thr1)).astype(np.int64)
            ok = free & (h < days)
            if ok.sum() < max(3, len(days) // 2):
                continue
            hh = np.minimum(h, tm.shape[1] - 1)
            acc2 = cum2[rows, days] - cum2[rows, hh] + g2[rows, hh]
            model = ThermalTime(
                PhenologyKind.TWO_PHASE,
                weight,
                float(base),
                float(cap),
                thr1,
                float(base2),
                float(np.median(acc2[ok])),
            )
            score = _score(model, tmin, tmax, days, cap_idx)
            if best is None or score < best[0]:
                best = (score, model)
    return best
