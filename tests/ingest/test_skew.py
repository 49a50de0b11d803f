"""Clock-skew correction of device batches."""

from __future__ import annotations

from edge.protocol import Batch
from ingest.clock import SkewCorrector

NOW_S = 1_764_000_000.0
KEY = ("t", "s", "d")


def batch(sent_ms: int, synced: bool = True) -> Batch:
    """A batch with only a send time."""
    return Batch("d", 0, sent_ms, (), clock_synced=synced)


def test_small_differences_and_delays_are_left_alone() -> None:
    """Network delay or a broker backlog is not a clock error."""
    corrector = SkewCorrector(300_000, lambda: NOW_S)
    assert corrector.shift_for(KEY, batch(int(NOW_S * 1000) - 1_000)) == 0
    assert corrector.shift_for(KEY, batch(int(NOW_S * 1000) - 3_600_000)) == 0


def test_future_send_time_is_shifted_back() -> None:
    """A clock ahead of ingest's by more than the threshold is corrected."""
    corrector = SkewCorrector(300_000, lambda: NOW_S)
    assert corrector.shift_for(KEY, batch(int(NOW_S * 1000) + 3_600_000)) == -3_600_000


def test_unsynchronised_clock_is_shifted_both_ways_and_shift_is_reused() -> None:
    """An agent without time sync gets shifted; a later redelivery lands on the same times."""
    now = [NOW_S]
    corrector = SkewCorrector(300_000, lambda: now[0])
    sent = 0  # a Pi that booted without network thinks it is 1970
    first = corrector.shift_for(KEY, batch(sent, synced=False))
    assert first == int(NOW_S * 1000)
    now[0] += 60  # redelivered a minute later
    assert corrector.shift_for(KEY, batch(sent, synced=False)) == first
