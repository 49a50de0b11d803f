"""The delivery loop: the due head of each destination, sent by its channel, marked in the outbox.

Destinations are served side by side (a slow receiver does not hold up the others) and each in
its queue's order. A failed attempt is tried again after an exponential backoff with jitter;
when a notification has waited longer than `give_up_after_s` (a day by default), or after
`max_attempts` where one is set, it becomes a dead letter with its last reason, and so does
one its channel refuses for good.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from notify.outbox import Outbox, Queued
from notify.types import Channel, Outcome

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to wait after the n-th failure, and when to give up."""

    base_s: float = 1.0
    cap_s: float = 60.0
    # None: no limit on attempts, only on how long a notification waits.
    max_attempts: int | None = None
    give_up_after_s: float = 24 * 3600.0

    def delay_s(self, attempts: int, rng: random.Random) -> float:
        """The wait after `attempts` failed attempts: uniform in [d/2, d], d = base·2ⁿ ≤ cap."""
        ceiling = min(self.cap_s, self.base_s * 2 ** min(attempts, 32))
        return ceiling / 2 + rng.random() * ceiling / 2


class Deliverer:
    """Delivers what the outbox holds through `channels` (by channel name)."""

    def __init__(
        self,
        outbox: Outbox,
        channels: Mapping[str, Channel],
        *,
        policy: RetryPolicy | None = None,
        workers: int = 8,
        clock: Callable[[], float] = time.time,
        on_outcome: Callable[[Queued, Outcome], None] = lambda _item, _outcome: None,
    ) -> None:
        """`on_outcome` hears of every attempt (metrics)."""
        self._outbox = outbox
        self._channels = dict(channels)
        self._policy = policy or RetryPolicy()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="deliver")
        self._clock = clock
        self._rng = random.Random()
        self._on_outcome = on_outcome

    def close(self) -> None:
        """Wait for attempts in flight, then stop the workers."""
        self._pool.shutdown(wait=True)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _attempt(self, item: Queued) -> Outcome:
        channel = self._channels.get(item.channel)
        if channel is None:
            outcome = Outcome.refused(f"no channel {item.channel!r} on this server")
        else:
            try:
                outcome = channel.send(item)
            # One notification's failure, whatever it is, stops no other.
            except Exception as exc:
                log.exception("channel %s failed on notification %s", item.channel, item.key)
                outcome = Outcome.transient(f"{type(exc).__name__}: {exc}")
        now_ms = self._now_ms()
        if outcome.ok:
            self._outbox.delivered(item, now_ms=now_ms)
        else:
            self._outbox.failed(
                item,
                outcome.reason,
                now_ms=now_ms,
                retry_at_ms=self._retry_at(item, outcome, now_ms),
            )
        self._on_outcome(item, outcome)
        return outcome

    def _retry_at(self, item: Queued, outcome: Outcome, now_ms: int) -> int | None:
        attempts = item.attempts + 1
        waited_s = (now_ms - item.queued_ms) / 1000
        limit = self._policy.max_attempts
        if outcome.permanent or (limit is not None and attempts >= limit):
            return None
        if waited_s >= self._policy.give_up_after_s:
            return None
        return now_ms + int(self._policy.delay_s(item.attempts, self._rng) * 1000)

    def run_once(self) -> int:
        """One pass: every due head, attempted once, side by side; returns how many were sent."""
        due = self._outbox.due(self._now_ms())
        outcomes = list(self._pool.map(self._attempt, due))
        return sum(1 for o in outcomes if o.ok)

    def run(self, stop: threading.Event, *, idle_s: float = 0.2) -> None:
        """Deliver until `stop` is set; sleeps until the next retry when nothing is due."""
        while not stop.is_set():
            if self.run_once():
                continue
            next_ms = self._outbox.next_due_ms()
            wait_s = idle_s if next_ms is None else (next_ms - self._now_ms()) / 1000
            stop.wait(min(max(wait_s, 0.01), idle_s))
