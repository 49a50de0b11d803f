"""Retrying an action with the agent's `Backoff` while it fails in a way that passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from core.errors import ShinshuError
from edge.backoff import Backoff

__all__ = ["Backoff", "RetryStoppedError", "retry"]

T = TypeVar("T")


class RetryStoppedError(ShinshuError):
    """The retries were called off before the action succeeded; the cause is its last failure."""


def _keep_trying(_exc: Exception, _delay_s: float) -> bool:
    """Retry for as long as it takes."""
    return True


def retry(
    action: Callable[[], T],
    *,
    transient: type[Exception] | tuple[type[Exception], ...],
    backoff: Backoff,
    on_failure: Callable[[Exception, float], bool] = _keep_trying,
    sleep: Callable[[float], object] = time.sleep,
) -> T:
    """`action()`, called again after each `transient` failure with `backoff`'s next delay.

    The delays start from the base on every call. `on_failure(exc, delay_s)` hears of each
    transient failure and the delay ahead (to count and log it); when it returns False,
    `RetryStoppedError` is raised from that failure instead of waiting. Any other exception
    propagates at once.
    """
    backoff.reset()
    while True:
        try:
            return action()
        except transient as exc:
            delay = backoff.next_delay()
            if not on_failure(exc, delay):
                raise RetryStoppedError(f"gave up after {exc}") from exc
        sleep(delay)
