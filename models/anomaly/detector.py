"""Streaming univariate anomaly detector: sequence and phase memories + anomaly likelihood.

Ideas taken from published streaming detectors of the Numenta Anomaly Benchmark (NAB):

- Numenta's HTM detector: raw surprise becomes an anomaly likelihood (``likelihood.py``), and a
  reading beyond the range seen by more than a tolerance ("spatial anomaly") scores 1. Here the
  range is the one held ``drift_lag`` readings ago, so a drift that creeps past the old extremes
  in small steps is caught once it has crept the tolerance beyond them.
- CAD OSE (Contextual Anomaly Detector, open-source edition): a memory of which quantised levels
  follow which contexts of earlier levels (``SequenceMemory``), and a rest period after an alarm
  that lasts as long as the surprise keeps ringing, so one long anomaly raises one alarm. Its
  rest of a fifth of NAB's probation period is 150 readings on a long series, the value used.
- ARTime: while it masks the readings after an anomaly it still reports one clearly stronger;
  here a certain anomaly (score 1) breaks a silence that a less certain alarm began.
- Calendar context: a level can be normal in itself and in sequence yet unusual for the hour of
  the day or of the week (a weekday holiday looks like a Sunday, a peak at night); one
  ``PhaseMemory`` per period judges that.
"""

from __future__ import annotations

import math
from collections import deque

from core.time import MS_PER_HOUR
from models.anomaly.context import PhaseMemory, SequenceMemory
from models.anomaly.likelihood import AnomalyLikelihood
from models.learner import OnlineDetector

HOURS_PER_DAY = 24
HOURS_PER_WEEK = 7 * HOURS_PER_DAY


def _hour_of(timestamp_ms: float) -> int | None:
    """Hours since the epoch, or None when the timestamp is unusable."""
    try:
        return int(timestamp_ms) // MS_PER_HOUR
    except (TypeError, ValueError, OverflowError):
        return None


class StreamingDetector(OnlineDetector[[int, float], float]):
    """Causal anomaly detector for one univariate series.

    Each reading is quantised into ``2**bits`` levels of the range seen so far. Up to three
    memories judge the level: a sequence memory (is it expected after the recent levels?) and,
    when ``use_time_of_day`` is set, two phase memories (was it seen at this hour of the day on
    earlier days, at this hour of the week in the last ``weeks_remembered`` weeks?). A phase
    memory's likelihood is fed only after its first whole period, when every level is still new
    at every hour; the daily one speaks once ``phase_days`` days of data have been seen, the
    weekly one after ``phase_weeks`` weeks. An anomaly likelihood per memory turns its raw
    surprise into a calibrated tail probability and the largest one is the score. A reading
    beyond the range seen until ``drift_lag`` readings ago by more than ``spatial_tolerance`` of
    it scores 1. After a score of at least ``alarm_level`` the detector stays silent for
    ``rest_period`` readings, since one anomaly usually spans many readings; with
    ``extend_rest`` every further reading at alarm level during the silence restarts it, and a
    score of 1 breaks a silence that a lower score began.
    """

    def __init__(
        self,
        *,
        bits: int = 3,
        max_order: int = 6,
        horizon: int = 5000,
        rest_period: int = 150,
        alarm_level: float = 0.5,
        spatial_tolerance: float = 0.05,
        warmup: int = 400,
        use_time_of_day: bool = True,
        phase_days: int = 7,
        phase_weeks: int = 2,
        weeks_remembered: int = 8,
        extend_rest: bool = True,
        drift_lag: int = 100,
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
        self.phase_weeks = phase_weeks
        self.weeks_remembered = weeks_remembered
        self.extend_rest = extend_rest
        self.drift_lag = drift_lag
        self.reset()

    def reset(self) -> None:
        """Forget all history."""
        # Raw scores of the first readings reflect untrained memories, not the series.
        skip = (3 * self.warmup) // 4
        self._sequence = SequenceMemory(self.max_order, self.bits, self.horizon)
        self._sequence_lik = AnomalyLikelihood(warmup=self.warmup, skip=skip)
        self._phase = PhaseMemory(self.bits)
        self._phase_lik = AnomalyLikelihood(warmup=self.warmup, skip=skip)
        self._week = PhaseMemory(self.bits, self.weeks_remembered, HOURS_PER_WEEK)
        self._week_lik = AnomalyLikelihood(warmup=self.warmup, skip=skip)
        self._levels = 2**self.bits
        self._lo = math.inf
        self._hi = -math.inf
        self._n = 0
        self._first_hour: int | None = None
        self._quiet = 0
        self._alarm = 0.0
        self._past_ranges: deque[tuple[float, float]] = deque(maxlen=max(1, self.drift_lag))
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
        # The range as it was ``drift_lag`` readings ago: a drift that creeps past the old
        # extremes in small steps is caught once it has crept ``spatial_tolerance`` beyond them.
        past = self._past_ranges
        past.append((lo, hi))
        ref_lo, ref_hi = past[0]
        beyond = False
        if self._n > self.warmup and ref_hi >= ref_lo:
            tol = self.spatial_tolerance * (ref_hi - ref_lo)
            beyond = value > ref_hi + tol or value < ref_lo - tol
        lo = self._lo = min(lo, value)
        hi = self._hi = max(hi, value)
        # Halving first keeps the range finite for readings near the float limits.
        span = 0.5 * hi - 0.5 * lo
        frac = (0.5 * value - 0.5 * lo) / span if span > 0.0 else 0.0
        level = min(int(frac * self._levels), self._levels - 1)

        seq_raw = self._sequence.score_and_learn(level)
        seq_score = self._sequence_lik.update(seq_raw)
        phase_raw = phase_score = week_raw = week_score = 0.0
        hour = _hour_of(timestamp_ms) if self.use_time_of_day else None
        if hour is not None:
            if self._first_hour is None:
                self._first_hour = hour
            seen_hours = hour - self._first_hour
            # Before a whole period has passed every level is new at every hour: such raw scores
            # say nothing about the series and would swamp the likelihood's history.
            phase_raw = self._phase.score_and_learn(level, hour)
            if seen_hours >= HOURS_PER_DAY:
                phase_score = self._phase_lik.update(phase_raw)
            week_raw = self._week.score_and_learn(level, hour)
            if seen_hours >= HOURS_PER_WEEK:
                week_score = self._week_lik.update(week_raw)
            # Which levels are normal at which hour is only known after several periods.
            if seen_hours < HOURS_PER_DAY * self.phase_days:
                phase_score = 0.0
            if seen_hours < HOURS_PER_WEEK * self.phase_weeks:
                week_score = 0.0
        score = 1.0 if beyond else max(seq_score, phase_score, week_score)

        # A certain anomaly is reported even during a silence begun by a less certain alarm.
        breakthrough = score >= 1.0 > self._alarm
        if self._quiet > 0 and not breakthrough:
            self._quiet -= 1
            # An anomaly still going on is the same anomaly: keep quiet until it subsides.
            if self.extend_rest and score >= self.alarm_level:
                self._quiet = self.rest_period
            self.reason = "quiet after a recent alarm"
            return 0.0
        if score >= self.alarm_level:
            self._quiet = self.rest_period
            self._alarm = score
        if self._n <= self.warmup:
            self.reason = "learning"
        elif beyond:
            self.reason = (
                f"value {value:g} outside the range [{ref_lo:g}, {ref_hi:g}] seen until "
                f"{len(past) - 1} readings ago"
            )
        elif week_score > max(seq_score, phase_score):
            self.reason = f"level unusual for this hour of the week (surprise {week_raw:.2f})"
        elif phase_score > seq_score:
            self.reason = f"level unusual for this hour of day (surprise {phase_raw:.2f})"
        else:
            self.reason = f"unusual sequence of levels (surprise {seq_raw:.2f})"
        return min(1.0, max(0.0, score))
