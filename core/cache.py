"""`TtlCache`: answers kept for a few seconds, each computed once however many ask at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

from cachetools import TTLCache

_T = TypeVar("_T")
CACHE_ENTRIES = 1_024
_MISSING = object()


class TtlCache(Generic[_T]):
    """Answers kept for `ttl_s` seconds, the least recently used dropped first (0: no caching).

    Callers that miss on a key while its answer is being computed wait for that computation
    and share its result or its error: when a cached answer expires under many pollers, one
    store query serves them all, and a failure is not retried by every waiting caller.
    """

    def __init__(self, ttl_s: float, entries: int = CACHE_ENTRIES) -> None:
        """Keep up to `entries` answers for `ttl_s` seconds each."""
        self._ttl = ttl_s
        # cachetools expires and evicts; it is not thread-safe, so every access holds the lock.
        self._answers: TTLCache[object, _T] | None = (
            TTLCache(maxsize=entries, ttl=ttl_s) if ttl_s > 0 else None
        )
        self._flights: dict[object, Future[_T]] = {}
        self._lock = threading.Lock()

    def get(self, key: object, compute: Callable[[], _T]) -> _T:
        """The cached answer for `key`, or `compute()` once while other callers wait for it."""
        answers = self._answers
        if answers is None:
            return compute()
        with self._lock:
            hit = answers.get(key, _MISSING)
            if hit is not _MISSING:
                return hit  # type: ignore[return-value]
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
            answers[key] = answer
            del self._flights[key]
        flight.set_result(answer)
        return answer
