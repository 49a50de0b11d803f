"""A temperature-following load cell on a bin without an item counter, seen in its quiet hours.

Without a counter there is no residual to regress on the temperature: every change of the
weight might be stock used. But in the hours when a bin is almost never touched (nights and
weekends of one- and two-shift halls, learnt per weekday-hour by `LoadCellDetector`) a healthy
cell shows a constant weight, whatever the hall temperature does. A damaged or wet cell does
not: its weight moves with the temperature. So each quiet stretch of at least `_MIN_HOURS`
gives one pair (weight change, temperature change) between its first and last hour, and the
stretches of the last `_WINDOW_DAYS` days are fitted by a line. A cell is alerted when the
line explains most of the changes and passes near the origin (a bin used a little even in its
quiet hours loses weight whatever the temperature does: an offset), several stretches moved by
more than the cell's resolution, and the slope times the temperature range of the stretches
exceeds a share of the bin's full weight. Differences, not levels, are fitted: what the bin
lost during the working hours in between does not enter.

A single item taken in a quiet stretch is one change the temperature does not explain, so it
lowers the fit instead of raising an alert. Halls that work around the clock have no quiet
hours, and then this tracker says nothing.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass

from core.time import MS_PER_DAY, MS_PER_HOUR

# Readings averaged at each end of a stretch (half an hour at 10-minute readings).
_ENDS = 3
_MIN_HOURS = 4.0
_WINDOW_DAYS = 7
# A reading more than this after the previous one breaks the stretch.
_GAP_MS = MS_PER_HOUR
# Stretches a line is fitted to, at least (after leaving out the worst).
_MIN_PAIRS = 4
# The line's offset, at most, as a share of the change the temperature explains.
_OFFSET_SHARE = 0.25


@dataclass(frozen=True, slots=True)
class QuietDriftFinding:
    """A weight that follows the temperature: kg over the stretches' range, and kg per kelvin."""

    kg: float
    slope_kg_per_k: float


@dataclass(slots=True)
class _Stretch:
    """An open quiet stretch: its first and latest readings."""

    start_ms: int
    head: list[tuple[float, float]]
    tail: deque[tuple[float, float]]
    last_ms: int


class QuietDriftTracker:
    """Weight and temperature changes over the quiet stretches of one bin without a counter."""

    def __init__(
        self, *, temp_share: float = 0.0025, r2: float = 0.8, moved_stretches: int = 3
    ) -> None:
        """Thresholds: share of the full weight, share of the changes the line explains, and
        stretches that moved."""
        self.temp_share = temp_share
        self.r2 = r2
        self.moved_stretches = moved_stretches
        self._open: _Stretch | None = None
        self._pairs: deque[tuple[int, float, float]] = deque()
        self._alerted = False

    @property
    def alerted(self) -> bool:
        """Whether a temperature-following cell is alerted now."""
        return self._alerted

    def interrupt(self) -> None:
        """A fault or a movement outside the quiet hours: the open stretch ends unused."""
        self._open = None

    def update(
        self,
        ts_ms: int,
        weight: float,
        temperature: float,
        *,
        quiet: bool,
        full_kg: float,
        res_kg: float,
    ) -> QuietDriftFinding | None:
        """Learn one reading; a finding when a closing stretch completes a fit that alerts."""
        stretch = self._open
        if stretch is not None and (not quiet or ts_ms - stretch.last_ms > _GAP_MS):
            self._open = None
            finding = self._close(stretch, full_kg, res_kg)
            stretch = None
        else:
            finding = None
        if not quiet or not math.isfinite(temperature):
            return finding
        if stretch is None:
            stretch = self._open = _Stretch(ts_ms, [], deque(maxlen=_ENDS), ts_ms)
        if len(stretch.head) < _ENDS:
            stretch.head.append((weight, temperature))
        stretch.tail.append((weight, temperature))
        stretch.last_ms = ts_ms
        return finding

    def _close(self, stretch: _Stretch, full_kg: float, res_kg: float) -> QuietDriftFinding | None:
        """Keep the stretch's pair if it was long enough; fit the window."""
        if stretch.last_ms - stretch.start_ms < _MIN_HOURS * MS_PER_HOUR:
            return None
        dw = statistics.median(w for w, _ in stretch.tail) - statistics.median(
            w for w, _ in stretch.head
        )
        dt = statistics.fmean(t for _, t in stretch.tail) - statistics.fmean(
            t for _, t in stretch.head
        )
        self._pairs.append((stretch.last_ms, dw, dt))
        while self._pairs and self._pairs[0][0] < stretch.last_ms - _WINDOW_DAYS * MS_PER_DAY:
            self._pairs.popleft()
        return self._fit(full_kg, res_kg)

    def _fit(self, full_kg: float, res_kg: float) -> QuietDriftFinding | None:
        """Line of weight change on temperature change over the window's stretches; with five
        or more the one the line explains worst (an item taken) is left out."""
        pairs = [(dw, dt) for _, dw, dt in self._pairs]
        fitted = _line(pairs)
        if fitted is not None and len(pairs) >= 5:
            slope, offset, _ = fitted
            worst = max(
                range(len(pairs)), key=lambda i: abs(pairs[i][0] - offset - slope * pairs[i][1])
            )
            pairs = pairs[:worst] + pairs[worst + 1 :]
            fitted = _line(pairs)
        if fitted is None or len(pairs) < _MIN_PAIRS:
            self._alerted = False
            return None
        slope, offset, r2 = fitted
        moved = sum(1 for dw, _ in pairs if abs(dw) > 1.5 * res_kg)
        dts = [dt for _, dt in pairs]
        amplitude = abs(slope) * (max(dts) - min(dts))
        limit = max(self.temp_share * full_kg, 3.0 * res_kg)
        # A bin used a little in its quiet hours loses weight whatever the temperature does:
        # that is the line's offset, and a faulty cell's line passes near the origin.
        near_origin = abs(offset) <= _OFFSET_SHARE * amplitude
        if r2 < 0.5 * self.r2 or amplitude < 0.5 * limit:
            self._alerted = False
        alert = r2 >= self.r2 and amplitude > limit and near_origin
        if alert and moved >= self.moved_stretches and not self._alerted:
            self._alerted = True
            return QuietDriftFinding(amplitude, slope)
        return None


def _line(pairs: list[tuple[float, float]]) -> tuple[float, float, float] | None:
    """Slope, offset and share of variance explained of y = offset + slope × x for (y, x)
    pairs, or None when there are fewer than three or x or y does not vary."""
    if len(pairs) < 3:
        return None
    ys = [y for y, _ in pairs]
    xs = [x for _, x in pairs]
    try:
        slope, offset = statistics.linear_regression(xs, ys)
        r = statistics.correlation(xs, ys)
    except statistics.StatisticsError:
        return None
    return slope, offset, r * r
