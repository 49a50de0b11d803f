"""Steps and spikes of a bin's weight alone, for bins without an item counter.

Without a counter a theft cannot be told from use by the residual, only by its speed: weight
lost within an hour far beyond the fastest use the bin has shown. A fall (or rise) that comes
back within `persist` readings is a spike; a rise that stays is a delivery.
"""

from __future__ import annotations

from collections import deque

from core.time import MS_PER_HOUR


class WeightSteps:
    """Fast falls and short excursions of the weight of one uncounted bin."""

    def __init__(self, *, persist: int = 4, speed: float = 4.0, share: float = 0.05) -> None:
        """A step is `speed` times the fastest hourly use and `share` of the largest weight."""
        self.persist = persist
        self.speed = speed
        self.share = share
        self._hour: deque[tuple[int, float]] = deque()
        self._before: float | None = None
        self._pending = 0
        self._peak = 0.0

    def restart(self) -> None:
        """Forget the recent readings (after a dead or stuck cell)."""
        self._hour.clear()
        self._before = None
        self._pending = 0

    def update(
        self, ts_ms: int, weight: float, *, fastest_kg_h: float, most_kg: float, res_kg: float
    ) -> tuple[str, float] | None:
        """("drop", kg) or ("spike", kg) when a step is confirmed or an excursion ends."""
        limit = max(self.speed * fastest_kg_h, self.share * most_kg, 10.0 * res_kg)
        found: tuple[str, float] | None = None
        if self._before is not None:
            self._pending += 1
            off = weight - self._before
            if abs(off) > abs(self._peak):
                self._peak = off
            if abs(off) < 0.3 * abs(self._peak):
                found = ("spike", self._peak)  # it came back
                self._before = None
            elif self._pending >= self.persist:
                if self._peak < 0:
                    found = ("drop", -off)
                self._before = None  # a rise that stays is a delivery
        elif self._hour:
            high = max(w for _, w in self._hour)
            low = min(w for _, w in self._hour)
            if high - weight > limit or weight - low > limit:
                self._before = high if high - weight > limit else low
                self._peak = weight - self._before
                self._pending = 0
        self._hour.append((ts_ms, weight))
        while self._hour and self._hour[0][0] < ts_ms - MS_PER_HOUR:
            self._hour.popleft()
        if found is not None:
            self._hour.clear()
            self._hour.append((ts_ms, weight))
        return found
