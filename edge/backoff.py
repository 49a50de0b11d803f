"""`Backoff`: exponential delays with jitter, so that many clients retrying do not move in step.

It lives in the agent (standard library only) because the agent is the lowest layer that
retries; the server side reaches it through `core.retry`.
"""

from __future__ import annotations

import random


class Backoff:
    """Exponential backoff with jitter: the n-th delay is uniform in [d/2, d], d = base·2ⁿ ≤ cap."""

    def __init__(self, base_s: float, cap_s: float, rng: random.Random | None = None) -> None:
        """`rng` is injectable so tests get reproducible delays."""
        self.base_s = base_s
        self.cap_s = cap_s
        self._rng = rng or random.Random()
        self._attempt = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; grows until the cap."""
        ceiling = min(self.cap_s, self.base_s * 2 ** min(self._attempt, 32))
        self._attempt += 1
        return ceiling / 2 + self._rng.random() * ceiling / 2

    def reset(self) -> None:
        """After a success, start again from the base delay."""
        self._attempt = 0
