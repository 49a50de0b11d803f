"""Streaming anomaly detection for one factory bin watched by a load cell and an item counter.

The two channels measure the same stock: weight / unit weight ≈ item count. Their residual
r = weight / unit − count is flat in normal operation, whatever the consumption, so every
anomaly shows as a change of r (or of one channel alone):

- drop (shrinkage, theft): r falls in a step that persists — weight left, the count did not;
- count jump (mis-scan): r steps because the counter jumped while the weight did not;
- spike: r leaves and comes back within a few readings;
- flat line (stuck load cell): the weight repeats exactly, which a noisy load cell never does;
- drift (load-cell calibration): r creeps away slowly; found by a two-sided CUSUM.

Deliveries move both channels up together and reconcile the counter (a stocktake): they
re-baseline the residual without an alert. Everything is learnt online from the past only.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from models.learner import OnlineDetector

# (weight kg, count items, residual items) of one reading.
_Pair = tuple[float, float, float]


# An empty bin's load cell reads (clipped) zero again and again: that is not a stuck sensor.
_EMPTY_KG = 0.05


class StockAnomaly(StrEnum):
    """Kinds of alert the detector raises."""

    DROP = "drop"
    COUNT_JUMP = "count_jump"
    SPIKE = "spike"
    FLAT_LINE = "flat_line"
    DRIFT = "drift"
    # Load-cell faults and slow losses (models.stock.loadcell).
    DEAD_CELL = "dead_cell"
    PILFERAGE = "pilferage"
    TEMPERATURE_DRIFT = "temperature_drift"


@dataclass(frozen=True, slots=True)
class StockAlert:
    """One alert: what, when (the reading that raised it), a score in [0, 1] and its reason in
    English and in Japanese."""

    kind: StockAnomaly
    ts_ms: int
    score: float
    reason: str
    reason_ja: str = ""


class BinAnomalyDetector(OnlineDetector[[int, float, float], list[StockAlert]]):
    """Online detector for one bin; `score_one` each pair of readings in time order."""

    def __init__(
        self,
        *,
        warmup: int = 144,
        step_sigmas: float = 8.0,
        persist: int = 4,
        flat_run: int = 5,
        cusum_slack: float = 2.0,
        cusum_limit: float = 60.0,
        min_drift: float = 0.01,
        resolution_kg: float = 0.0,
        repeats_confirm: bool = False,
        min_step_items: float = 0.0,
    ) -> None:
        """Store the parameters; readings are assumed evenly spaced (e.g. every 10 minutes).

        `min_drift` is the smallest drift worth an alert, as a share of the largest count seen;
        `resolution_kg` the load cell's smallest shown change (its division and hold band).
        With `repeats_confirm` a repeated weight counts as a reading (an indicator that holds
        whole divisions repeats as a rule, and a theft at night must still be confirmed);
        steps smaller than `min_step_items` move the baseline without an alert.
        """
        self.warmup = warmup
        self.step_sigmas = step_sigmas
        self.persist = persist
        self.flat_run = flat_run
        self.cusum_slack = cusum_slack
        self.cusum_limit = cusum_limit
        self.min_drift = min_drift
        self.resolution_kg = resolution_kg
        self.repeats_confirm = repeats_confirm
        self.min_step_items = min_step_items
        self._n = 0
        # Unit weight: weight ≈ unit × count, fitted through the origin over the warm-up and
        # then kept, so that a later standing discrepancy (theft, a mis-scan) cannot bend it.
        self._swc = self._scc = 0.0
        self._diffs: deque[float] = deque(maxlen=500)
        # An hour of readings: short enough not to lag behind a slow drift.
        self._recent: deque[float] = deque(maxlen=6)
        self._last: _Pair | None = None
        self._last_weight = math.nan
        # The residual expected without drift: 0 when weight and count agree, or the standing
        # discrepancy an alerted drop or mis-scan left until the next stocktake.
        self._expected = 0.0
        self._run: list[_Pair] = []  # the reading before a pending step, then the step's
        self._flat = 0
        self._flat_alerted = False
        self._pos = self._neg = 0.0
        self._drifting = False
        self._most = 0.0

    @property
    def unit_weight(self) -> float | None:
        """Weight of one item learnt so far (kg), or None before any stock was seen."""
        return self._swc / self._scc if self._scc > 0 else None

    def _sigma(self) -> float:
        """Noise of the residual (items), from the median absolute change between readings."""
        if len(self._diffs) < 20:
            return math.inf
        ordered = sorted(self._diffs)
        unit = self.unit_weight
        # Whole divisions make a sawtooth of up to one shown step between weight and count.
        floor = max(0.25, 0.5 * self.resolution_kg / unit if unit else 0.0)
        return max(1.4826 * ordered[len(ordered) // 2] / math.sqrt(2), floor)

    def restart(self) -> None:
        """Forget the last reading (after a gap the caller could not trust, e.g. a dead cell)."""
        self._last = None
        self._last_weight = math.nan
        self._run.clear()
        self._flat = 0

    def update(self, ts_ms: int, weight: float, count: float) -> list[StockAlert]:
        """The alerts one pair of readings raises; the older name of `score_one`."""
        return self.score_one(ts_ms, weight, count)

    def score_one(self, ts_ms: int, weight: float, count: float) -> list[StockAlert]:
        """The alerts one pair of readings raises (often none), then learn from it."""
        self._n += 1
        self._most = max(self._most, count)
        alerts: list[StockAlert] = []
        stuck = self._check_flat(ts_ms, weight, alerts)
        previous_weight, self._last_weight = self._last_weight, weight
        unit = self.unit_weight
        if self._n <= self.warmup and count > 0 and weight > 0:
            self._swc += weight * count
            self._scc += count * count
        if unit is None or stuck:
            self._last = None
            return alerts
        now = (weight, count, weight / unit - count)
        repeat = weight == previous_weight and weight > _EMPTY_KG
        if repeat and not self.repeats_confirm and self._last is not None:
            # A repeat may be the start of a stuck load cell (alerted once it lasts), or just
            # a quiet bin read at the cell's resolution: either way it says nothing new about
            # the weight, so it neither confirms nor cancels a step under way.
            return alerts
        previous, self._last = self._last, now
        if previous is None or self._n <= self.warmup:
            # Start, end of a flat line, or warm-up: whatever the residual is now is normal.
            if previous is not None:
                self._diffs.append(abs(now[2] - previous[2]))
            self._rebaseline(now)
            return alerts
        self._diffs.append(abs(now[2] - previous[2]))
        sigma = self._sigma()
        if not math.isfinite(sigma):
            self._rebaseline(now)
            return alerts
        if self._delivery(previous, now, unit, sigma):
            if abs(now[2]) <= 2 * self.step_sigmas * sigma:
                # The receipt came with a stocktake: weight and count agree again.
                self._expected = 0.0
            self._rebaseline(now)
            return alerts
        self._check_steps(ts_ms, previous, now, unit, sigma, alerts=alerts)
        if not self._run:
            self._recent.append(now[2])
            self._check_drift(ts_ms, now[2], sigma, alerts)
        return alerts

    def _rebaseline(self, now: tuple[float, float, float]) -> None:
        """The residual's present value becomes the baseline for step detection."""
        self._recent.clear()
        self._recent.append(now[2])
        self._run.clear()

    def _drift_over(self) -> None:
        """A drift has ended: clear the CUSUM so the next one is alerted afresh."""
        self._pos = self._neg = 0.0
        self._drifting = False

    def _delivery(self, previous: _Pair, now: _Pair, unit: float, sigma: float) -> bool:
        """Both channels rose together well beyond noise: goods received (and counted)."""
        limit = self.step_sigmas * sigma
        return now[1] - previous[1] > limit and (now[0] - previous[0]) / unit > limit

    def _check_flat(self, ts_ms: int, weight: float, alerts: list[StockAlert]) -> bool:
        """A load cell repeating its value exactly is stuck (an empty bin reads near zero)."""
        if weight == self._last_weight and weight > _EMPTY_KG:
            self._flat += 1
        else:
            self._flat = 0
            self._flat_alerted = False
        if self._flat + 1 >= self.flat_run and not self._flat_alerted:
            self._flat_alerted = True
            alerts.append(
                StockAlert(
                    StockAnomaly.FLAT_LINE,
                    ts_ms,
                    1.0,
                    f"load cell has read exactly {weight:g} kg {self._flat + 1} times",
                    f"ロードセルが {self._flat + 1} 回続けてちょうど {weight:g} kg を示しています",
                )
            )
        return self._flat_alerted

    def _check_steps(
        self,
        ts_ms: int,
        previous: _Pair,
        now: _Pair,
        unit: float,
        sigma: float,
        *,
        alerts: list[StockAlert],
    ) -> None:
        """Steps of the residual: spikes return within `persist` readings, steps stay."""
        baseline = _median(self._recent)
        deviation = now[2] - baseline
        limit = self.step_sigmas * sigma
        if abs(deviation) <= limit:
            if self._run:
                spike = self._spike(ts_ms, sigma)
                peak = max(abs(r[2] - self._run[0][2]) for r in self._run[1:])
                if peak >= self.min_step_items:
                    alerts.append(spike)
                self._run.clear()
            return
        if self._drifting and abs(now[2] - self._expected) <= limit:
            # The end of a calibration drift: the load cell is back where it was.
            self._drift_over()
            self._rebaseline(now)
            return
        if not self._run:
            self._run.append(previous)
        self._run.append(now)
        if len(self._run) - 1 < self.persist:
            return
        before = self._run[0]
        if abs(now[2]) < 0.5 * abs(before[2]) and abs(now[2]) <= 2 * limit:
            # Weight and count agree again (a stocktake reconciled the counter): no anomaly.
            self._expected = 0.0
            self._rebaseline(now)
            return
        size = now[2] - before[2]
        counted = now[1] - before[1]
        self._expected += size
        if abs(size) < self.min_step_items:
            self._rebaseline(now)  # a real but negligible step (an item or two)
            return
        score = min(1.0, abs(size) / (4 * limit))
        # Taking items lowers both channels. Weight lost beyond the count is a drop, unless the
        # count itself went up (a double scan); a count falling faster than the weight is a
        # missed scan.
        if size > 0 or counted > limit:
            alerts.append(
                StockAlert(
                    StockAnomaly.COUNT_JUMP,
                    ts_ms,
                    score,
                    f"item count moved by {-size:+.0f} more than the weight explains",
                    f"個数が重量で説明できる以上に {-size:+.0f} 個変化しました",
                )
            )
        else:
            alerts.append(
                StockAlert(
                    StockAnomaly.DROP,
                    ts_ms,
                    score,
                    f"weight fell by {-size * unit:.1f} kg ({-size:.0f} items) that the "
                    "count does not explain",
                    f"個数の記録では説明できない {-size * unit:.1f} kg（{-size:.0f} 個分）の"
                    "重量の減少",
                )
            )
        self._rebaseline(now)

    def _spike(self, ts_ms: int, sigma: float) -> StockAlert:
        """The alert for the pending run, which returned to the baseline: a spike."""
        peak = max(self._run[1:], key=lambda r: abs(r[2] - self._run[0][2]))
        size = peak[2] - self._run[0][2]
        return StockAlert(
            StockAnomaly.SPIKE,
            ts_ms,
            min(1.0, abs(size) / (4 * self.step_sigmas * sigma)),
            f"weight jumped by {size:+.0f} items' worth for {len(self._run) - 1} reading(s)",
            f"重量が {len(self._run) - 1} 回の計測の間だけ {size:+.0f} 個分跳ねました",
        )

    def _check_drift(
        self, ts_ms: int, residual: float, sigma: float, alerts: list[StockAlert]
    ) -> None:
        """Two-sided CUSUM of the residual against the level expected without drift."""
        level = self._expected
        excess = (residual - level) / sigma
        self._pos = max(0.0, self._pos + excess - self.cusum_slack)
        self._neg = max(0.0, self._neg - excess - self.cusum_slack)
        large = abs(residual - level) >= self.min_drift * self._most
        if not self._drifting and large and max(self._pos, self._neg) > self.cusum_limit:
            self._drifting = True
            alerts.append(
                StockAlert(
                    StockAnomaly.DRIFT,
                    ts_ms,
                    1.0,
                    f"weight drifting {'up' if self._pos > self._neg else 'down'} against the "
                    f"count: {residual - level:+.0f} items' worth",
                    f"重量が個数に対して{'上' if self._pos > self._neg else '下'}方向にずれています"
                    f"（{residual - level:+.0f} 個分）",
                )
            )


def _median(values: deque[float]) -> float:
    """Upper median of `values`, 0 when empty."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0
