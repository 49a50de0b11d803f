"""Rolling Gaussian tail probability of raw anomaly scores ("anomaly likelihood")."""

from __future__ import annotations

import math
from collections import deque

# A tail probability of 1e-10 maps to a log-likelihood of exactly 1.
_LOG_FLOOR = math.log(1e-10)
_SQRT2 = math.sqrt(2.0)


class AnomalyLikelihood:
    """Turn raw scores into how improbable their recent average is, on a log scale in [0, 1].

    A Gaussian is fitted to a bounded history of short-term averages of the raw scores; the output
    is log10(upper-tail probability) / -10 of the newest average, so 0.5 means p = 1e-5.
    """

    def __init__(
        self,
        *,
        warmup: int = 400,
        skip: int = 300,
        history: int = 8640,
        avg_window: int = 10,
        min_mean: float = 0.03,
        min_var: float = 3e-4,
    ) -> None:
        """Store the parameters; state is created by ``reset``."""
        self.warmup = warmup
        self.skip = skip
        self.history = history
        self.avg_window = avg_window
        self.min_mean = min_mean
        self.min_var = min_var
        self.reset()

    def reset(self) -> None:
        """Forget all history."""
        self._recent: deque[float] = deque()
        self._recent_sum = 0.0
        self._hist: deque[tuple[float, float]] = deque()
        self._sum = 0.0
        self._sq = 0.0
        self._raw_sum = 0.0
        self._raw_sq = 0.0
        self._n = 0

    def update(self, raw: float) -> float:
        """Add one raw score in [0, 1] and return the log-scaled likelihood in [0, 1]."""
        recent = self._recent
        recent.append(raw)
        self._recent_sum += raw
        if len(recent) > max(1, self.avg_window):
            self._recent_sum -= recent.popleft()
        avg = self._recent_sum / len(recent)
        self._n += 1
        result = 0.0
        if self._n > self.warmup and len(self._hist) > 30:
            result = self._log_likelihood(avg)
        # Early raw scores reflect an untrained model rather than the series: keep them out.
        if self._n > self.skip:
            self._push(avg, raw)
        return result

    def _push(self, avg: float, raw: float) -> None:
        """Append one (average, raw) pair to the bounded history with O(1) running moments."""
        hist = self._hist
        hist.append((avg, raw))
        self._sum += avg
        self._sq += avg * avg
        self._raw_sum += raw
        self._raw_sq += raw * raw
        if len(hist) > self.history:
            old_avg, old_raw = hist.popleft()
            self._sum -= old_avg
            self._sq -= old_avg * old_avg
            self._raw_sum -= old_raw
            self._raw_sq -= old_raw * old_raw
        # Running sums drift with rounding error over long streams; rebuild them now and then.
        if self._n % 50_000 == 0:
            self._sum = math.fsum(a for a, _ in hist)
            self._sq = math.fsum(a * a for a, _ in hist)
            self._raw_sum = math.fsum(r for _, r in hist)
            self._raw_sq = math.fsum(r * r for _, r in hist)

    def _log_likelihood(self, avg: float) -> float:
        """Upper-tail probability of ``avg`` under the fitted Gaussian, mapped to [0, 1]."""
        count = len(self._hist)
        mean = self._sum / count
        raw_mean = self._raw_sum / count
        # A flat raw score stream carries no information: only a rise above it is news.
        if self._raw_sq / count - raw_mean * raw_mean < 1.5e-5 and avg <= mean + 1e-9:
            return 0.0
        var = max(self._sq / count - mean * mean, self.min_var)
        mean = max(mean, self.min_mean)
        z = (avg - mean) / math.sqrt(var)
        if z <= 0.0:
            return 0.0
        tail = 0.5 * math.erfc(z / _SQRT2)
        return min(1.0, max(0.0, math.log(tail + 1e-10) / _LOG_FLOOR))
