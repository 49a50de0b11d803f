"""The token bucket shared by the per-key and the per-address limits, on a clock of its own."""

from __future__ import annotations

import pytest

from core.settings import ApiSettingsError, Settings, load_api_settings
from dashboard.ratelimit import RateLimitedError, RateLimiter


class Clock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        """Start at an arbitrary point."""
        self.now = 1000.0

    def __call__(self) -> float:
        """The current time in seconds."""
        return self.now


def test_burst_then_one_token_per_interval() -> None:
    """A burst of `burst`, then one request per 1/rate seconds, with the wait in Retry-After."""
    clock = Clock()
    limiter = RateLimiter(1.0, 10, clock)
    for _ in range(10):
        limiter.take("a")
    with pytest.raises(RateLimitedError) as refused:
        limiter.take("a")
    assert refused.value.retry_after_s == 1
    clock.now += 1.0
    limiter.take("a")
    with pytest.raises(RateLimitedError):
        limiter.take("a")
    limiter.take("b")


def test_check_refuses_an_empty_bucket_without_spending() -> None:
    """`check` never spends a token: any number of checks leave the budget as it was."""
    clock = Clock()
    limiter = RateLimiter(1.0, 2, clock)
    for _ in range(100):
        limiter.check("a")
    assert len(limiter) == 0
    limiter.take("a")
    limiter.take("a")
    with pytest.raises(RateLimitedError) as refused:
        limiter.check("a")
    assert "retry after 1 s" in str(refused.value)
    clock.now += 0.5
    with pytest.raises(RateLimitedError):
        limiter.check("a")
    clock.now += 0.5
    limiter.check("a")
    limiter.take("a")


def test_refill_never_exceeds_the_burst() -> None:
    """A long idle spell gives back the burst, not more."""
    clock = Clock()
    limiter = RateLimiter(1.0, 3, clock)
    limiter.take("a")
    clock.now += 3600.0
    for _ in range(3):
        limiter.take("a")
    with pytest.raises(RateLimitedError):
        limiter.take("a")


def test_idle_buckets_are_dropped() -> None:
    """Buckets of names idle long enough to be full again are not kept."""
    clock = Clock()
    limiter = RateLimiter(1.0, 10, clock)
    for number in range(1000):
        limiter.take(f"10.0.{number // 256}.{number % 256}")
    assert len(limiter) == 1000
    clock.now += 10.0
    limiter.take("192.0.2.1")
    assert len(limiter) == 1


def test_a_dropped_idle_bucket_is_indistinguishable_from_a_kept_one() -> None:
    """After burst/rate seconds a name has its whole burst back, dropped or not."""
    clock = Clock()
    limiter = RateLimiter(0.5, 4, clock)
    for _ in range(4):
        limiter.take("a")
    clock.now += 8.0
    for _ in range(4):
        limiter.take("a")
    with pytest.raises(RateLimitedError):
        limiter.take("a")


def test_memory_is_bounded_when_many_names_are_busy_at_once() -> None:
    """Beyond `max_buckets` the least recently used bucket goes; recent ones keep their state."""
    clock = Clock()
    limiter = RateLimiter(0.001, 1, clock, max_buckets=100)
    for number in range(10_000):
        limiter.take(f"name-{number}")
        clock.now += 0.001
    assert len(limiter) == 100
    with pytest.raises(RateLimitedError):
        limiter.take("name-9999")


def test_failure_limit_settings_are_read_and_checked() -> None:
    """SHINSHU_API_AUTH_FAILURE_* default to 1/s and 10, are read, and must be positive."""
    platform = Settings()
    defaults = load_api_settings(platform, env={})
    assert (defaults.auth_failure_rate_per_s, defaults.auth_failure_burst) == (1.0, 10)
    read = load_api_settings(
        platform,
        env={
            "SHINSHU_API_AUTH_FAILURE_RATE_PER_S": "0.2",
            "SHINSHU_API_AUTH_FAILURE_BURST": "5",
        },
    )
    assert (read.auth_failure_rate_per_s, read.auth_failure_burst) == (0.2, 5)
    for name, value in (
        ("SHINSHU_API_AUTH_FAILURE_RATE_PER_S", "0"),
        ("SHINSHU_API_AUTH_FAILURE_BURST", "0"),
        ("SHINSHU_API_AUTH_FAILURE_BURST", "ten"),
    ):
        with pytest.raises(ApiSettingsError, match="AUTH_FAILURE"):
            load_api_settings(platform, env={name: value})
