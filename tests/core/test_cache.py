"""core.cache.TtlCache: answers kept a while, computed once however many callers wait."""

from __future__ import annotations

import threading
import time

import pytest

from core.cache import TtlCache


def test_callers_of_one_key_share_one_computation_and_its_error() -> None:
    """Eight concurrent misses run the computation once; a failure is shared, not cached."""
    cache: TtlCache[int] = TtlCache(60.0)
    calls: list[int] = []
    gate = threading.Event()

    def slow() -> int:
        calls.append(1)
        gate.wait(5)
        return 42

    answers: list[int] = []
    threads = [
        threading.Thread(target=lambda: answers.append(cache.get("k", slow))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    gate.set()
    for thread in threads:
        thread.join(5)
    assert answers == [42] * 8 and len(calls) == 1

    def broken() -> int:
        raise RuntimeError("store down")

    with pytest.raises(RuntimeError):
        cache.get("other", broken)
    assert cache.get("other", lambda: 7) == 7


def test_answers_expire_and_the_least_recently_used_go_first() -> None:
    """Past the TTL an answer is computed again; beyond `entries` the oldest use is dropped."""
    cache: TtlCache[str] = TtlCache(0.2, entries=2)
    assert cache.get("a", lambda: "a1") == "a1"
    assert cache.get("b", lambda: "b1") == "b1"
    assert cache.get("a", lambda: "a2") == "a1"
    assert cache.get("c", lambda: "c1") == "c1"
    assert cache.get("b", lambda: "b2") == "b2"
    time.sleep(0.25)
    assert cache.get("c", lambda: "c2") == "c2"
    assert TtlCache[str](0).get("a", lambda: "fresh") == "fresh"
