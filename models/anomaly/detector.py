"""Streaming univariate anomaly detector: sequence and phase memories + anomaly likelihood."""

from __future__ import annotations

import math

from core.time import MS_PER_HOUR
from models.anomaly.context import PhaseMemory, SequenceMemory
from models.anomaly.likelihood import AnomalyLikelihood
from models.learner import OnlineDetector


def _hour_of(timestamp_ms: float) -> int | None:
    """Hours since the epoch, or None when the timestamp is unusable."""
    try:
        return int(timestamp_ms) // MS_PER_HOUR
    except (TypeError, ValueError, OverflowError):
        return None


class StreamingDetector(OnlineDetector[[int, float], float]):
    """Causal anomaly detector for one univariate series.

    Each reading is quantised into ``2**bits`` levels of the range seen so far. Two memories
    judge the level: a sequence memory (is it expected after the recent levels?) and, when
    ``use_time_of_day`` is set, a phase memory (was it seen at this hour on earlier days?), which
    only speaks once ``phase_days`` days of data have been seen. An
    anomaly likelihood per memory turns its raw surprise into a calibrated tail probability and
    the larger one is the score. Readings beyond the historical range by more than
    ``spatial_tolerance`` of it score 1. After a score of at least ``alarm_level`` the detector
    stays silent for ``rest_period`` readings, since one anomaly usually spans many readings.
    """

    def __init__(
        self,
        *,
        bits: int = 3,
        max_order: int = 6,
        horizon: int = 5000,
        rest_period: int = 100,
        alarm_level: float = 0.5,
        spatial_tolerance: float = 0.05,
        warmup: int = 400,
        use_time_of_day: bool = True,
        phase_days: int = 7,
    ) -> None:
        """Store the parameters; state is created by ``reset``."""
        self.bits = bits
        self.max_order = max_order
        self.horizon = horizon
        self.rest_period = rest_period
        self.alarm_level = alarm_level
        self.spatial_tolerance = spatial_tolerance
        self.warmup = warmup
        self.use_time_of_day = use_time_of_day
        self.phase_days = phase_days
        self.reset()

    def reset(self) -> None:
        """Forget all history."""
        # Raw scores of the first readings reflect untrained memories, not the series.
        skip = (3 * self.warmup) // 4
        self._sequence = SequenceMemory(self.max_order, self.bits, self.horizon)
        self._sequence_lik = AnomalyLikelihood(warmup=self.warmup, skip=skip)
        self._phase = PhaseMemory(self.bits)
        self._phase_lik = AnomalyLikelihood(warmup=self.warmup, skip=skip)
        self._levels = 2**self.bits
        self._lo = math.inf
        self._hi = -math.inf
        self._n = 0
        self._first_hour: int | None = None
        self._quiet = 0
        self.reason = "no data yet"

    def score_one(self, timestamp_ms: int, value: float) -> float:
        """Score one reading against the past only (a score in [0, 1]), then learn it."""
        try:
            value = float(value)
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value):
            self.reason = "missing value"
            return 0.0
        self._n += 1
        lo, hi = self._lo, self._hi
        beyond = False
        if self._n > self.warmup:
            tol = self.spatial_tolerance * (hi - lo)
            beyond = value > hi + tol or value < lo - tol
        lo = self._lo = min(lo, value)
        hi = self._hi = max(hi, value)
        # Halving first keeps the range finite for readings near the float limits.
        span = 0.5 * hi - 0.5 * lo
        frac = (0.5 * value - 0.5 * lo) / span if span > 0.0 else 0.0
        level = min(int(frac * self._levels), self._levels - 1)

        seq_raw = self._sequence.score_and_learn(level)
        seq_score = self._sequence_lik.update(seq_raw)
        phase_raw = phase_score = 0.0
        hour = _hour_of(timestamp_ms) if self.use_time_of_day else None
        if hour is not None:
            if self._first_hour is None:
                self._first_hour = hour
            phase_raw = self._phase.score_and_learn(level, hour)
            phase_score = self._phase_lik.update(phase_raw)
            # Which levels are normal at which hour is only known after several days.
            if hour - self._first_hour < 24 * self.phase_days:
                phase_score = 0.0
        score = 1.0 if beyond else max(seq_score, phase_score)

        if self._quiet > 0:
            self._quiet -= 1
            self.reason = "quiet after a recent alarm"
            return 0.0
        if score >= self.alarm_level:
            self._quiet = self.rest_period
        if self._n <= self.warmup:
            self.reason = "learning"
        elif beyond:
            self.reason = f"value {value:g} outside the range seen so far [{lo:g}, {hi:g}]"
        elif phase_score > seq_score:
            self.reason = f"level unusual for this hour of day (surprise {phase_raw:.2f})"
        else:
            self.reason = f"unusual sequence of levels (surprise {seq_raw:.2f})"
        return min(1.0, max(0.0, score))
