"""Per-key rate limiting: a token bucket per API key, in this process's memory.

Behind a load balancer each instance limits on its own, so a key's budget is per instance;
that is the price of a stateless API without a shared cache.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from dashboard.settings import DashboardError


class RateLimitedError(DashboardError):
    """A key used its budget; `retry_after_s` is when the next request will be accepted."""

    def __init__(self, retry_after_s: int) -> None:
        """Carry the whole seconds a client should wait."""
        super().__init__(f"rate limit exceeded; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets by key id: `rate` tokens per second, holding at most `burst`."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Allow `rate` requests per second per key, with bursts of up to `burst`."""
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key_id: str) -> None:
        """Spend one token of `key_id` or raise RateLimitedError."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key_id)
            if bucket is None:
                bucket = self._buckets[key_id] = _Bucket(self._burst, now)
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return
            missing = 1.0 - bucket.tokens
        raise RateLimitedError(max(1, math.ceil(missing / self._rate)))
