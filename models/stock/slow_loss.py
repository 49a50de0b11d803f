"""Slow changes of a bin's weight-count residual: pilferage over weeks, and a cell following
the hall temperature.

The residual r = weight − unit × count (kg) of a counted bin stays put in normal operation.

- Pilferage takes single items unscanned, a few a day: r sinks too slowly for a step detector,
  and every goods receipt's stocktake reconciles the counter, which hides the loss again. So
  the loss of each stocktake interval (r at its start minus r just before the receipt) is
  banked into a one-sided CUSUM with a daily slack, judged at each stocktake (when the
  counter's correction confirms the loss): an alert when the banked loss exceeds a share of
  the bin's full weight.
- A damaged or wet cell's zero follows the temperature: r regressed on the hall temperature
  over the last three days (both detrended in time) has a slope that, times the temperature
  range, explains most of r's variance and exceeds a share of the full weight.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass

from core.time import MS_PER_DAY, MS_PER_HOUR

# Readings averaged at each end of a stocktake interval (an hour at 10-minute readings).
_ENDS = 6
# Hours of (residual, temperature) regressed for a temperature-following cell.
_WINDOW_H = 72
_MIN_HOURS = 36


@dataclass(frozen=True, slots=True)
class SlowFinding:
    """What the slow tracker found on one reading: a loss (kg) or a temperature slope."""

    kind: str  # "pilferage" or "temperature"
    kg: float
    slope_kg_per_k: float = 0.0


class SlowLossTracker:
    """Pilferage CUSUM across stocktakes and temperature regression of one counted bin."""

    def __init__(
        self,
        *,
        pilfer_share: float = 0.01,
        slack_share_per_day: float = 0.0001,
        temp_share: float = 0.005,
        temp_r2: float = 0.6,
    ) -> None:
        """Thresholds as shares of the bin's largest weight seen."""
        self.pilfer_share = pilfer_share
        self.slack_share_per_day = slack_share_per_day
        self.temp_share = temp_share
        self.temp_r2 = temp_r2
        self._start: float | None = None
        self._start_ms = 0
        self._head: list[float] = []
        self._tail: deque[float] = deque(maxlen=_ENDS)
        self._banked = 0.0
        self._pilfer_alerted = False
        self._hour = -1
        self._acc: list[tuple[float, float]] = []
        self._hours: deque[tuple[float, float, float]] = deque(maxlen=_WINDOW_H)
        self._temp_alerted = False
        self._interval_clean = True
        self._slope = 0.0
        self._mean_t = 0.0
        self._calm_hours = 0
        self._full = 0.0
        self._found: SlowFinding | None = None

    def reset(self, *, keep_banked: bool = False) -> None:
        """Start the residual afresh (a step was alerted, the cell was dead or stuck); a step
        keeps the losses banked before it."""
        self._start = None
        self._head.clear()
        self._tail.clear()
        self._hours.clear()
        self._acc.clear()
        self._slope = 0.0
        self._temp_alerted = False
        if not keep_banked:
            self._banked = 0.0
            self._pilfer_alerted = False

    @property
    def temperature_alerted(self) -> bool:
        """Whether a temperature-following cell is alerted (and corrected) now."""
        return self._temp_alerted

    def correction(self, temperature: float) -> float:
        """The weight (kg) the temperature adds while a temperature-following cell is alerted."""
        if not self._temp_alerted or not math.isfinite(temperature):
            return 0.0
        return self._slope * (temperature - self._mean_t)

    def taint(self) -> None:
        """The current interval saw a fault: its loss is not banked."""
        self._interval_clean = False

    def stocktake(self, ts_ms: int) -> None:
        """A goods receipt reconciled the counter: bank the interval's loss, start another."""
        if self._start is not None and len(self._tail) == _ENDS and self._interval_clean:
            loss = self._start - statistics.median(self._tail)
            days = (ts_ms - self._start_ms) / MS_PER_DAY
            self._banked = max(0.0, self._banked + loss - self._slack(days))
            self._found = self._pilferage()
        self._start = None
        self._head.clear()
        self._tail.clear()
        self._interval_clean = True

    def _slack(self, days: float) -> float:
        """Loss allowed for noise over `days` (kg)."""
        return self.slack_share_per_day * self._full * days

    def update(
        self, ts_ms: int, residual_kg: float, temperature: float, *, full_kg: float, res_kg: float
    ) -> list[SlowFinding]:
        """Learn one residual; the findings it completes."""
        self._full = full_kg
        self._res = res_kg
        found: list[SlowFinding] = []
        if self._start is None:
            self._head.append(residual_kg)
            if len(self._head) >= _ENDS:
                self._start = statistics.median(self._head)
                self._start_ms = ts_ms
        else:
            self._tail.append(residual_kg)
        if self._found is not None:
            found.append(self._found)
            self._found = None
        if math.isfinite(temperature):
            temp = self._temperature(ts_ms, residual_kg, temperature, full_kg, res_kg)
            if temp is not None:
                found.append(temp)
        return found

    def _pilferage(self) -> SlowFinding | None:
        """Losses banked over stocktakes beyond the limit: pilferage (once per episode).

        Judged only at a stocktake, when the counter's correction confirms the loss: within an
        interval a step under way or a spike would look the same.
        """
        limit = max(self.pilfer_share * self._full, 8.0 * self._res)
        if self._banked <= 0.5 * limit:
            self._pilfer_alerted = False
        if self._banked > limit and not self._pilfer_alerted and not self._temp_alerted:
            self._pilfer_alerted = True
            return SlowFinding("pilferage", self._banked)
        return None

    def _temperature(
        self, ts_ms: int, residual_kg: float, temperature: float, full_kg: float, res_kg: float
    ) -> SlowFinding | None:
        """Hourly means of residual and temperature; a regression once an hour closes."""
        hour = ts_ms // MS_PER_HOUR
        finding = None
        if hour != self._hour and self._acc:
            self._hours.append(
                (
                    float(self._hour),
                    statistics.fmean(r for r, _ in self._acc),
                    statistics.fmean(t for _, t in self._acc),
                )
            )
            self._acc.clear()
            finding = self._regress(full_kg, res_kg)
        self._hour = hour
        self._acc.append((residual_kg, temperature))
        return finding

    def _regress(self, full_kg: float, res_kg: float) -> SlowFinding | None:
        """Slope and partial fit of residual on temperature over the window, a linear trend in
        time removed from both (a slow loss and a seasonal warming are not a faulty cell)."""
        if len(self._hours) < _MIN_HOURS:
            return None
        times = [h for h, _, _ in self._hours]
        rs = _detrended(times, [r for _, r, _ in self._hours])
        ts = _detrended(times, [t for _, _, t in self._hours])
        sxx = sum(t * t for t in ts)
        syy = sum(r * r for r in rs)
        if sxx <= 0.0 or syy <= 0.0:
            return None
        sxy = sum(t * r for r, t in zip(rs, ts, strict=True))
        slope = sxy / sxx
        r2 = sxy * sxy / (sxx * syy)
        amplitude = abs(slope) * (max(ts) - min(ts))
        limit = max(self.temp_share * full_kg, 4.0 * res_kg)
        if r2 < 0.5 * self.temp_r2 or amplitude < 0.5 * limit:
            # A day without the link before the cell counts as healthy again.
            self._calm_hours += 1
            if self._calm_hours >= 24:
                self._temp_alerted = False
        else:
            self._calm_hours = 0
        if r2 >= self.temp_r2 and amplitude > limit and not self._temp_alerted:
            self._temp_alerted = True
            self._slope = slope
            self._mean_t = statistics.fmean(t for _, _, t in self._hours)
            self._interval_clean = False  # the temperature, not a loss, moved the residual
            return SlowFinding("temperature", amplitude, slope)
        return None


def _detrended(x: list[float], y: list[float]) -> list[float]:
    """`y` minus its least-squares line in `x`."""
    mx, my = statistics.fmean(x), statistics.fmean(y)
    sxx = sum((a - mx) ** 2 for a in x)
    b = sum((a - mx) * (c - my) for a, c in zip(x, y, strict=True)) / sxx if sxx else 0.0
    return [c - my - b * (a - mx) for a, c in zip(x, y, strict=True)]
