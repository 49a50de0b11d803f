"""Bin anomaly detector for real weighing indicators, with or without an item counter.

Real indicators show whole divisions and hold a stable value, so a quiet bin repeats one
reading for hours: repeats alone prove nothing. This detector wraps `BinAnomalyDetector` (steps,
spikes and mis-scans of the weight-count residual) and replaces its flat-line and drift rules:

- flat line: the weight repeated while the counter moved, in several scans, by more than the
  cell's resolution; without a counter, while the bin repeated a value at hours when its weight
  (learnt per weekday × hour, holidays as Sundays) almost always changes, so that a quiet
  stretch this long has a chance below `quiet_p`;
- dead cell: an exact zero (or a reading out of range: negative, or far above any weight seen
  with no counted delivery to explain it) straight after a clearly non-empty reading, while
  the counter still holds stock or, without a counter, after a fall far faster than any seen
  consumption; a true empty bin is reached by consumption instead;
- pilferage and temperature drift: `models.stock.slow_loss` on the residual.

The resolution (division and hold band) is learnt as the smallest change the weight shows.
Readings may be missing; a NaN count means the bin has no counter, a NaN temperature none known.
"""

from __future__ import annotations

import math

from core.time import JST_OFFSET_MS, MS_PER_DAY, MS_PER_HOUR
from models.learner import OnlineDetector
from models.stock.anomaly import BinAnomalyDetector, StockAlert, StockAnomaly
from models.stock.quiet_drift import QuietDriftTracker
from models.stock.slow_loss import SlowLossTracker
from models.stock.stockout import SUNDAY, japanese_factory_holiday
from models.stock.weight_steps import WeightSteps

_EMPTY_KG = 0.05
_SLOTS = 168
_FALLS = 5
_CONFIRM = 4
# A week and a half of one weekday-hour before its change rate is trusted.
_SLOT_VISITS = 9
# Two weeks of readings before the weekday-hour pattern is used at all (New Year skews it).
_SLOT_WARMUP = 14 * 144
# A weekday-hour whose weight changes at least this often is one where the bin moves.
_MOVING = 0.2
# A weekday-hour whose weight falls by less than this many resolutions a reading, on average,
# and by no more than it rises give or take `_QUIET_NET`, is one when nobody takes from the bin
# (an indicator without hold flickers by one division, as often up as down; a bin of small
# parts used around the clock falls by a fraction of a division a reading, but never rises).
_QUIET = 0.3
_QUIET_NET = 0.05


def _slot(ts_ms: int) -> int:
    """Weekday (Mon=0, holidays as Sunday) × 24 + local hour."""
    local = ts_ms + JST_OFFSET_MS
    day = local // MS_PER_DAY
    weekday = SUNDAY if japanese_factory_holiday(day) else (day + 3) % 7
    return weekday * 24 + (local % MS_PER_DAY) // MS_PER_HOUR


class LoadCellDetector(OnlineDetector[[int, float, float, float], list[StockAlert]]):
    """Online detector for one bin read through a weighing indicator; `score_one` in time order."""

    def __init__(
        self,
        *,
        warmup: int = 144,
        flat_run: int = 5,
        flat_moves: int = 3,
        quiet_p: float = 1e-6,
        dead_share: float = 0.05,
        pilfer_share: float = 0.01,
        temp_share: float = 0.005,
    ) -> None:
        """Store the parameters (shares are of the largest weight seen)."""
        self.warmup = warmup
        self.flat_run = flat_run
        self.flat_moves = flat_moves
        self.quiet_p = quiet_p
        self.dead_share = dead_share
        self.pilfer_share = pilfer_share
        self.temp_share = temp_share
        # Steps and spikes of the residual; its own flat-line and drift rules are replaced.
        self._steps = BinAnomalyDetector(
            warmup=warmup, flat_run=1 << 30, cusum_limit=math.inf, repeats_confirm=True
        )
        self._slow = SlowLossTracker(pilfer_share=pilfer_share, temp_share=temp_share)
        self._quiet_drift = QuietDriftTracker(temp_share=0.5 * temp_share)
        self._weight_steps = WeightSteps()
        self._corrected = False
        self._was_stuck = False
        self._n = 0
        self._res = math.inf
        self._most = 0.0
        self._prev_w = math.nan
        self._prev2 = math.nan
        self._prev_ts = 0
        self._prev_count = math.nan
        self._falls: list[float] = []  # kg per hour of the largest falls seen, kept short
        self._dead = False
        self._zeros = 0  # readings of a sudden zero not yet confirmed as a dead cell
        self._before = math.nan
        self._run = 0
        self._run_moved = self._run_jump = 0.0
        self._run_moves = 0
        self._run_logp = 0.0
        self._flat_alerted = False
        # Per weekday-hour: readings seen and readings that changed, slowly forgotten.
        self._visits = [0.0] * _SLOTS
        self._changes = [0.0] * _SLOTS
        # ... and the weight it fell and rose by (kg): stock used or added, or noise on a division.
        self._fallen = [0.0] * _SLOTS
        self._risen = [0.0] * _SLOTS

    @property
    def resolution_kg(self) -> float:
        """The smallest change the weight has shown (its division, widened by the hold band)."""
        return self._res if math.isfinite(self._res) else 0.0

    def score_one(
        self, ts_ms: int, weight: float, count: float = math.nan, temperature: float = math.nan
    ) -> list[StockAlert]:
        """The alerts one reading raises (often none), then learn from it."""
        alerts: list[StockAlert] = []
        if not math.isfinite(weight):
            return alerts  # a lost reading: nothing to judge
        self._n += 1
        counted = math.isfinite(count)
        if self._dead_now(ts_ms, weight, count, alerts):
            self._quiet_drift.interrupt()
            return alerts
        previous = self._prev_w
        if math.isfinite(previous):
            self._learn_motion(ts_ms, weight, previous)
        stuck = self._check_flat(ts_ms, weight, count, alerts)
        self._most = max(self._most, weight)
        rise = count - self._prev_count if math.isfinite(self._prev_count) else 0.0
        self._prev_w, self._prev_ts, self._prev_count = weight, ts_ms, count
        if not counted:
            self._uncounted_steps(ts_ms, weight, stuck=stuck, alerts=alerts)
            self._track_quiet(ts_ms, weight, temperature, stuck=stuck, alerts=alerts)
            return alerts
        if stuck:
            self._steps.restart()
            self._slow.taint()
            return alerts
        self._steps.resolution_kg = self.resolution_kg
        unit = self._steps.unit_weight
        if unit:
            # A step of an item or two is pilferage's business, not a theft alert's.
            self._steps.min_step_items = 0.005 * self._most / unit
        if self._slow.temperature_alerted != self._corrected:
            # The weight fed to the step detector starts or stops being corrected: a jump.
            self._corrected = self._slow.temperature_alerted
            self._steps.restart()
        corrected = weight - self._slow.correction(temperature)
        for alert in self._steps.score_one(ts_ms, corrected, count):
            alerts.append(alert)
            if alert.kind in (StockAnomaly.DROP, StockAnomaly.COUNT_JUMP):
                # The residual has a new level, already explained; earlier losses stay banked.
                self._slow.reset(keep_banked=True)
        self._track_slow(ts_ms, weight, count, temperature, rise=rise, alerts=alerts)
        return alerts

    def _dead_now(self, ts_ms: int, weight: float, count: float, alerts: list[StockAlert]) -> bool:
        """Whether the cell is dead now (alerting once it is confirmed); learns its recovery.

        A sudden zero must last `_CONFIRM` readings: a negative spike clipped at zero does not.
        """
        out_of_range = weight < -0.5 or self._implausibly_high(weight, count)
        zero = weight <= _EMPTY_KG
        if self._dead:
            if zero or out_of_range:
                return True
            self._dead = False  # back: start afresh, the gap told nothing
            self._steps.restart()
            self._weight_steps.restart()
            self._slow.reset()
            self._prev_w = math.nan
            return False
        if self._zeros and not (zero or out_of_range):
            self._zeros = 0  # it came back: a spike, which the step detector judges
            return False
        if not self._zeros and not (out_of_range or (zero and self._sudden_zero(ts_ms, count))):
            return False
        self._zeros += 1
        if self._zeros == 1:
            self._before = self._prev_w
        if self._zeros < _CONFIRM and not out_of_range:
            return False
        self._zeros = 0
        self._dead = True
        self._steps.restart()
        self._slow.reset()
        before = self._before
        alerts.append(
            StockAlert(
                StockAnomaly.DEAD_CELL,
                ts_ms,
                1.0,
                f"load cell reads {weight:g} kg straight after {before:g} kg, with no consumption "
                "to explain it: cell or cable failure, not an empty bin",
                f"ロードセルが {before:g} kg から消費もなく突然 {weight:g} kg になりました。"
                "空のビンではなく、セルまたはケーブルの故障です",
            )
        )
        return True

    def _implausibly_high(self, weight: float, count: float) -> bool:
        """A weight far above any seen that no counted delivery explains: a garbage reading.

        A bin seen only nearly empty (a warm start after a short history) is refilled far
        above its largest weight so far: with a counter that saw the delivery, or without a
        counter at all, that is stock, not a fault.
        """
        if not (self._most > 0 and weight > 1.5 * self._most) or not math.isfinite(count):
            return False
        return not (math.isfinite(self._prev_count) and count > self._prev_count)

    def _sudden_zero(self, ts_ms: int, count: float) -> bool:
        """A zero that consumption cannot explain: stock was clearly there a moment ago."""
        before = self._prev_w
        if not math.isfinite(before) or self._n <= self.warmup:
            return False
        there = max(10.0 * self.resolution_kg, self.dead_share * self._most)
        unit = self._steps.unit_weight
        if math.isfinite(count) and unit:
            # A delivery counted in while the weight stays at zero is a dead cell too.
            received = math.isfinite(self._prev_count) and (count - self._prev_count) * unit > there
            if before <= there and not received:
                return False  # approached by consumption: an empty bin
            return count * unit > there  # the counter still holds stock
        if before <= there:
            return False
        hours = max((ts_ms - self._prev_ts) / MS_PER_HOUR, 1 / 6)
        # The fifth fastest fall: a few thefts or spikes must not set the bar.
        fastest = self._falls[0] if len(self._falls) >= _FALLS else math.inf
        return before > 3.0 * fastest * hours + there

    def _uncounted_steps(
        self, ts_ms: int, weight: float, *, stuck: bool, alerts: list[StockAlert]
    ) -> None:
        """Thefts and spikes of a bin without a counter, from the weight's speed alone."""
        if stuck or self._was_stuck or self._n <= self.warmup or len(self._falls) < _FALLS:
            # After a stuck stretch the weight catches up at once: not a theft.
            self._was_stuck = stuck
            self._weight_steps.restart()
            return
        found = self._weight_steps.update(
            ts_ms,
            weight,
            fastest_kg_h=self._falls[0],
            most_kg=self._most,
            res_kg=self.resolution_kg,
        )
        if found is None:
            return
        kind, kg = found
        if kind == "drop":
            alerts.append(
                StockAlert(
                    StockAnomaly.DROP,
                    ts_ms,
                    min(1.0, kg / (0.2 * self._most)),
                    f"weight fell by {kg:.1f} kg within the hour, far faster than this bin is "
                    "ever used (no counter to check)",
                    f"このビンの通常の消費よりはるかに速く、1 時間以内に {kg:.1f} kg 減りました"
                    "（個数カウンタなし）",
                )
            )
        else:
            alerts.append(
                StockAlert(
                    StockAnomaly.SPIKE,
                    ts_ms,
                    min(1.0, abs(kg) / (0.2 * self._most)),
                    f"weight jumped by {kg:+.1f} kg and came back",
                    f"重量が {kg:+.1f} kg 跳ねて元に戻りました",
                )
            )

    def _track_quiet(
        self,
        ts_ms: int,
        weight: float,
        temperature: float,
        *,
        stuck: bool,
        alerts: list[StockAlert],
    ) -> None:
        """A temperature-following cell of a bin without a counter, from its quiet hours."""
        if stuck:
            self._quiet_drift.interrupt()
            return
        slot = _slot(ts_ms)
        visits = self._visits[slot]
        quiet = (
            self._n > _SLOT_WARMUP
            and visits >= _SLOT_VISITS
            and self._fallen[slot] < _QUIET * self.resolution_kg * visits
            and self._fallen[slot] - self._risen[slot] < _QUIET_NET * self.resolution_kg * visits
        )
        found = self._quiet_drift.update(
            ts_ms,
            weight,
            temperature,
            quiet=quiet,
            full_kg=self._most,
            res_kg=self.resolution_kg,
        )
        if found is None:
            return
        alerts.append(
            StockAlert(
                StockAnomaly.TEMPERATURE_DRIFT,
                ts_ms,
                min(1.0, found.kg / (0.02 * self._most)),
                f"in the hours nobody uses this bin its weight follows the hall temperature by "
                f"{found.slope_kg_per_k:+.2f} kg/K ({found.kg:.1f} kg over the last days): "
                "check the load cell",
                f"誰も使わない時間帯に、重量が室温に連動して変化しています（"
                f"{found.slope_kg_per_k:+.2f} kg/K、直近数日で {found.kg:.1f} kg）。"
                "ロードセルを点検してください",
            )
        )

    def _learn_motion(self, ts_ms: int, weight: float, previous: float) -> None:
        """Resolution, the fastest falls, and how often each hour of the week sees a change."""
        change = abs(weight - previous)
        if change > 1e-9:
            self._res = min(self._res, change)
        if weight < previous:
            hours = max((ts_ms - self._prev_ts) / MS_PER_HOUR, 1 / 6)
            self._falls = sorted([*self._falls, (previous - weight) / hours])[-_FALLS:]
        slot = _slot(ts_ms)
        # A value flickering between two neighbours at rest is noise on a division boundary,
        # not movement: only a value new to the last two counts as the bin moving.
        moved = change > 1e-9 and weight != self._prev2
        self._prev2 = previous
        if not self._flat_alerted:
            # About eight weeks of memory at six readings an hour.
            self._visits[slot] = 0.998 * self._visits[slot] + 1.0
            self._changes[slot] = 0.998 * self._changes[slot] + (1.0 if moved else 0.0)
            self._fallen[slot] = 0.998 * self._fallen[slot] + max(0.0, previous - weight)
            self._risen[slot] = 0.998 * self._risen[slot] + max(0.0, weight - previous)

    def _check_flat(
        self, ts_ms: int, weight: float, count: float, alerts: list[StockAlert]
    ) -> bool:
        """A stuck cell: the value repeats while the bin should be moving."""
        empty = weight <= max(_EMPTY_KG, 2.0 * self.resolution_kg)
        if weight != self._prev_w or empty or self._n <= self.warmup:
            self._run, self._run_moves, self._run_logp = 0, 0, 0.0
            self._run_moved = self._run_jump = 0.0
            self._flat_alerted = False
            return False
        self._run += 1
        if math.isfinite(count) and count != self._prev_count:
            self._run_moves += 1
            step = abs(count - self._prev_count)
            self._run_moved += step
            self._run_jump = max(self._run_jump, step)
        slot = _slot(ts_ms)
        p = (self._changes[slot] + 0.5) / (self._visits[slot] + 1.0)
        if self._visits[slot] >= _SLOT_VISITS and p >= _MOVING:
            # Only hours when the weight usually moves are evidence; (changes + 1/2) /
            # (visits + 1) keeps the chance off 1.
            self._run_logp += math.log(1.0 - p)
        if self._flat_alerted or self._run + 1 < self.flat_run:
            return self._flat_alerted
        unit = self._steps.unit_weight
        if math.isfinite(count) and unit:
            # Scans since the repeat began, less the largest: one mis-scan jump is no movement.
            moved = self._run_moved - self._run_jump
            enough = max(3.0 * self.resolution_kg, 0.005 * self._most)
            if self._run_moves >= self.flat_moves and moved * unit > enough:
                self._flat_alerted = True
                alerts.append(
                    StockAlert(
                        StockAnomaly.FLAT_LINE,
                        ts_ms,
                        1.0,
                        f"load cell has shown {weight:g} kg for {self._run + 1} readings while "
                        f"the counter moved by {moved:.0f} items ({moved * unit:.1f} kg)",
                        f"カウンタが {moved:.0f} 個（{moved * unit:.1f} kg）動いたのに、"
                        f"ロードセルは {self._run + 1} 回続けて {weight:g} kg のままです",
                    )
                )
        elif self._n > _SLOT_WARMUP and self._run_logp < math.log(self.quiet_p):
            self._flat_alerted = True
            alerts.append(
                StockAlert(
                    StockAnomaly.FLAT_LINE,
                    ts_ms,
                    1.0,
                    f"load cell has shown {weight:g} kg for {self._run + 1} readings at hours "
                    "when this bin's weight nearly always changes",
                    f"普段は重量が変化する時間帯なのに、ロードセルが {self._run + 1} 回続けて "
                    f"{weight:g} kg のままです",
                )
            )
        return self._flat_alerted

    def _track_slow(
        self,
        ts_ms: int,
        weight: float,
        count: float,
        temperature: float,
        *,
        rise: float,
        alerts: list[StockAlert],
    ) -> None:
        """Pilferage and temperature drift on the residual, once the unit weight is learnt."""
        unit = self._steps.unit_weight
        if not unit or self._n <= self.warmup:
            return
        residual = weight - unit * count
        if rise > max(10.0, 0.01 * self._most / unit):
            self._slow.stocktake(ts_ms)  # a goods receipt reconciles the counter
        for found in self._slow.update(
            ts_ms, residual, temperature, full_kg=self._most, res_kg=self.resolution_kg
        ):
            if found.kind == "pilferage":
                items = found.kg / unit
                alerts.append(
                    StockAlert(
                        StockAnomaly.PILFERAGE,
                        ts_ms,
                        min(1.0, found.kg / (0.05 * self._most)),
                        f"{found.kg:.1f} kg ({items:.0f} items) lost over the recent stocktake "
                        "intervals without a scan: slow pilferage or unrecorded use",
                        f"直近の棚卸し間隔で、記録のない {found.kg:.1f} kg（{items:.0f} 個分）の"
                        "減少があります（少しずつの持ち出し、または記録漏れ）",
                    )
                )
            else:
                alerts.append(
                    StockAlert(
                        StockAnomaly.TEMPERATURE_DRIFT,
                        ts_ms,
                        min(1.0, found.kg / (0.02 * self._most)),
                        f"weight follows the hall temperature by {found.slope_kg_per_k:+.2f} kg/K "
                        f"({found.kg:.1f} kg over the last days) while the count does not: "
                        "check the load cell",
                        f"個数は変わらないのに重量が室温に連動しています（{found.slope_kg_per_k:+.2f}"
                        f" kg/K、直近数日で {found.kg:.1f} kg）。ロードセルを点検してください",
                    )
                )
