"""core.retry: the agent's Backoff around an action that fails in passing."""

from __future__ import annotations

import random

import pytest

from core.retry import Backoff, RetryStoppedError, retry


class Flaky:
    """Fails `failures` times with ConnectionError, then answers."""

    def __init__(self, failures: int) -> None:
        """Count calls from zero."""
        self.failures = failures
        self.calls = 0

    def __call__(self) -> str:
        """One attempt."""
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"attempt {self.calls}")
        return "ok"


def test_transient_failures_are_retried_with_growing_jittered_delays() -> None:
    """Each delay is in [d/2, d] with d doubling up to the cap; every call starts from the base."""
    sleeps: list[float] = []
    backoff = Backoff(1.0, 4.0, random.Random(3))
    assert retry(Flaky(4), transient=ConnectionError, backoff=backoff, sleep=sleeps.append) == "ok"
    for delay, ceiling in zip(sleeps, [1.0, 2.0, 4.0, 4.0], strict=True):
        assert ceiling / 2 <= delay <= ceiling
    sleeps.clear()
    retry(Flaky(1), transient=ConnectionError, backoff=backoff, sleep=sleeps.append)
    assert 0.5 <= sleeps[0] <= 1.0


def test_a_stop_raises_from_the_last_failure_and_other_errors_pass_through() -> None:
    """on_failure returning False ends the retries; a non-transient error is not retried."""
    heard: list[str] = []

    def once(exc: Exception, _delay: float) -> bool:
        heard.append(str(exc))
        return len(heard) < 2

    flaky = Flaky(10)
    with pytest.raises(RetryStoppedError) as stopped:
        retry(
            flaky,
            transient=ConnectionError,
            backoff=Backoff(0.1, 1.0),
            on_failure=once,
            sleep=lambda _s: None,
        )
    assert heard == ["attempt 1", "attempt 2"] and flaky.calls == 2
    assert isinstance(stopped.value.__cause__, ConnectionError)
    broken = Flaky(1)
    with pytest.raises(ConnectionError):
        retry(broken, transient=TimeoutError, backoff=Backoff(0.1, 1.0), sleep=lambda _s: None)
    assert broken.calls == 1
