"""core.time: the one set of time constants, day helpers and duration parser."""

from __future__ import annotations

import datetime as dt

import pytest

from core.time import (
    JST,
    MS_PER_DAY,
    MS_PER_HOUR,
    day_number,
    day_start_ms,
    from_day_number,
    from_ms,
    iso_utc,
    local_day,
    local_today,
    parse_duration_ms,
    to_ms,
)


def test_a_local_day_starts_at_midnight_in_japan() -> None:
    """15:00 UTC is already the next day in Japan; each day starts at 15:00 UTC the day before."""
    before = to_ms(dt.datetime(2026, 1, 1, 14, 59, tzinfo=dt.UTC))
    after = before + 60_000
    assert local_day(after) == local_day(before) + 1
    assert day_start_ms(local_day(after)) == after
    assert from_ms(day_start_ms(local_day(after))).astimezone(JST).time() == dt.time(0, 0)
    assert local_today(from_ms(after)) == dt.date(2026, 1, 2)
    assert from_day_number(local_day(after)) == dt.date(2026, 1, 2)
    assert day_number(dt.date(1970, 1, 2)) == 1


def test_milliseconds_and_iso_texts() -> None:
    """A time without zone is UTC; texts end in Z."""
    assert to_ms(dt.datetime(1970, 1, 1, 1)) == MS_PER_HOUR
    assert iso_utc(MS_PER_DAY + 5) == "1970-01-02T00:00:00.005000Z"
    assert iso_utc(MS_PER_DAY + 5, "milliseconds") == "1970-01-02T00:00:00.005Z"


@pytest.mark.parametrize(
    ("text", "ms"),
    [("250ms", 250), ("90s", 90_000), ("1.5h", 5_400_000), ("2d", 2 * MS_PER_DAY), ("30", 30_000)],
)
def test_durations_are_read_in_every_unit(text: str, ms: int) -> None:
    """A number and a unit; a bare number counts in seconds."""
    assert parse_duration_ms(text) == ms


def test_durations_that_cannot_be_read_are_refused() -> None:
    """Words, negative numbers, and a bare number where a unit is required."""
    for bad in ("soon", "-1s", -1.0):
        with pytest.raises(ValueError, match="duration"):
            parse_duration_ms(bad)
    with pytest.raises(ValueError, match="cannot read '30'"):
        parse_duration_ms("30", bare_unit=None)
    assert parse_duration_ms(2, bare_unit="m") == 120_000
