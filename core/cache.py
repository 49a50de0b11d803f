"""`TtlCache`: answers kept for a few seconds, each computed once however many ask at once."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

_T = TypeVar("_T")
CACHE_ENTRIES = 1_024


class TtlCache(Generic[_T]):
    """Answers kept for `ttl_s` seconds, the least recently used dropped first (0: no caching).

    Callers that miss on a key while its answer is being computed wait for that computation
    and share its result or its error: when a cached answer expires under many pollers, one
    store query serves them all, and a failure is not retried by every waiting caller.
    """

    def __init__(self, ttl_s: float, entries: int = CACHE_ENTRIES) -> None:
        """Keep up to `entries` answers for `ttl_s` seconds each."""
        self._ttl = ttl_s
        self._entries = entries
        self._answers: OrderedDict[object, tuple[float, _T]] = OrderedDict()
        self._flights: dict[object, Future[_T]] = {}
        self._lock = threading.Lock()

    def get(self, key: object, compute: Callable[[], _T]) -> _T:
        """The cached answer for `key`, or `compute()` once while other callers wait for it."""
        if self._ttl <= 0:
            return compute()
        began = time.monotonic()
        with self._lock:
            hit = self._answers.get(key)
            if hit is not None and began - hit[0] < self._ttl:
                self._answers.move_to_end(key)
                return hit[1]
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = Future()
        if not leader:
            return flight.result()
        try:
            answer = compute()
        except BaseException as exc:
            # Not remembered: the next caller after this flight asks again.
            with self._lock:
                del self._flights[key]
            flight.set_exception(exc)
            raise
        with self._lock:
            self._answers[key] = (began, answer)
            self._answers.move_to_end(key)
            while len(self._answers) > self._entries:
                self._answers.popitem(last=False)
            del self._flights[key]
        flight.set_result(answer)
        return answer
