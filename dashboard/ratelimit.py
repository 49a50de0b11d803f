"""Token buckets in this process's memory: per API key, and per client address for wrong keys.

Behind a load balancer each instance limits on its own, so a key's budget is per instance;
that is the price of a stateless API without a shared cache.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from dashboard.errors import DashboardError

# Enough for every address active at once in a busy deployment, small enough (a few MB) that
# a client spraying source addresses cannot exhaust memory.
MAX_BUCKETS = 50_000


class RateLimitedError(DashboardError):
    """A budget is spent; `retry_after_s` is when the next request will be accepted."""

    def __init__(self, retry_after_s: int, reason: str = "rate limit exceeded") -> None:
        """Carry the whole seconds a client should wait."""
        super().__init__(f"{reason}; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets by name: `rate` tokens per second, holding at most `burst`, memory bounded."""

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_buckets: int = MAX_BUCKETS,
        reason: str = "rate limit exceeded",
    ) -> None:
        """Allow `rate` requests per second per name, with bursts of up to `burst`."""
        self._rate = rate
        self._burst = float(burst)
        self._refill_s = burst / rate
        self._clock = clock
        self._max_buckets = max_buckets
        self._reason = reason
        # Ordered by last update, oldest first. A bucket left alone for burst/rate seconds is full
        # again, the same as a new one, so it is dropped from the front; beyond `max_buckets` the
        # least recently used one goes too, which at worst hands its name a fresh budget.
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many buckets are held."""
        return len(self._buckets)

    def take(self, name: str) -> None:
        """Spend one token of `name` or raise RateLimitedError."""
        now = self._clock()
        with self._lock:
            self._evict_idle(now)
            bucket = self._buckets.get(name)
            if bucket is None:
                if len(self._buckets) >= self._max_buckets:
                    self._buckets.popitem(last=False)
                bucket = self._buckets[name] = _Bucket(self._burst, now)
            else:
                self._buckets.move_to_end(name)
            bucket.tokens = self._tokens(bucket, now)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return
            missing = 1.0 - bucket.tokens
        raise self._refusal(missing)

    def check(self, name: str) -> None:
        """Raise RateLimitedError if `name` has no token left, without spending one."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(name)
            if bucket is None:
                return
            tokens = self._tokens(bucket, now)
        if tokens < 1.0:
            raise self._refusal(1.0 - tokens)

    def _tokens(self, bucket: _Bucket, now: float) -> float:
        return min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)

    def _evict_idle(self, now: float) -> None:
        buckets = self._buckets
        while buckets:
            oldest = next(iter(buckets.values()))
            if now - oldest.updated < self._refill_s:
                return
            buckets.popitem(last=False)

    def _refusal(self, missing: float) -> RateLimitedError:
        return RateLimitedError(max(1, math.ceil(missing / self._rate)), self._reason)
