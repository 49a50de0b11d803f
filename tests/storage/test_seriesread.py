"""Pages of one long series read in windows of time (`storage.seriesread`), on either store.

Every page is checked against the written points sliced in Python: from the start, deep into
the series with nothing remembered (counted a week, then an hour, at a time) and continuing
from the page before (a remembered cursor), oldest or newest first, over gaps of weeks.
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from edge.protocol import MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS, DeviceTopic, SensorKind
from storage import seriesread
from storage.batch import ChannelReadings
from storage.protocol import ReadingStore
from storage.query import match
from storage.seriesread import Span, read_span

T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z
MINUTE = 60_000
DAY = 86_400_000


def _series(store: ReadingStore) -> tuple[str, list[tuple[int, float]]]:
    """A tenant with one series: dense minutes, a gap of 40 days, sparse hours, odd ms."""
    tenant = f"t{uuid.uuid4().hex[:10]}"
    rng = np.random.default_rng(5)
    dense = T0 + MINUTE * np.arange(30_000)
    sparse = dense[-1] + 40 * DAY + 3_600_000 * np.arange(2_000)
    odd = sparse[-1] + 7 * DAY + np.cumsum(rng.integers(1, 90_000, 3_000))
    times = np.concatenate([dense, sparse, odd]).tolist()
    values = rng.normal(10, 5, len(times)).tolist()
    topic = DeviceTopic(tenant, "plot", "logger")
    channel = ChannelReadings(topic, "t1", SensorKind.AIR_TEMPERATURE, times, values)
    assert store.write_channel(channel) == []
    return tenant, list(zip(times, values, strict=True))


def _span(tenant: str, start: int, end: int, *, descending: bool) -> Span:
    where = match(tenant=tenant, site="plot", device="logger", sensor="t1")
    return Span(SensorKind.AIR_TEMPERATURE.value, where, start, end, descending)


def _read(store: ReadingStore, span: Span, offset: int, limit: int) -> list[tuple[int, float]]:
    times, values = read_span(store, span, limit=limit, offset=offset)
    return list(zip(times.tolist(), values.tolist(), strict=True))


@pytest.fixture(autouse=True)
def _forget_cursors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts without remembered page ends."""
    monkeypatch.setattr(seriesread, "CURSORS", seriesread._Cursors())


@pytest.mark.parametrize("descending", [False, True])
def test_any_page_equals_the_written_points_sliced(store: ReadingStore, descending: bool) -> None:
    """Offsets near the start, past the seek threshold, in the gap and past the end."""
    tenant, points = _series(store)
    ranges = [(MIN_TIMESTAMP_MS, MAX_TIMESTAMP_MS + 1), (T0 + 5 * DAY + 7, T0 + 80 * DAY)]
    for start, end in ranges:
        inside = [p for p in points if start <= p[0] < end]
        expected = inside[::-1] if descending else inside
        span = _span(tenant, start, end, descending=descending)
        # 21 600: the first three week buckets (Thursday to Thursday) end exactly there.
        for offset in (0, 1, 999, 20_000, 20_001, 21_600, 29_999, 31_500, 34_999, 35_000, 40_000):
            for limit in (1, 101, 5_001):
                seriesread.CURSORS = seriesread._Cursors()
                got = _read(store, span, offset, limit)
                assert got == expected[offset : offset + limit], (start, offset, limit)


@pytest.mark.parametrize("descending", [False, True])
def test_pages_in_turn_continue_where_the_last_ended(store: ReadingStore, descending: bool) -> None:
    """Following pages of 2 500 (read 2 501 at a time) gives every point once, in order."""
    tenant, points = _series(store)
    span = _span(tenant, MIN_TIMESTAMP_MS, MAX_TIMESTAMP_MS + 1, descending=descending)
    pages: list[tuple[int, float]] = []
    offset = 0
    while True:
        got = _read(store, span, offset, 2_501)
        pages += got[:2_500]
        if len(got) <= 2_500:
            break
        # The next page's first point was the last one read: it is remembered.
        assert seriesread.CURSORS.get(store, span, offset + 2_500) == got[-1][0]
        offset += 2_500
    assert pages == (points[::-1] if descending else points)


def test_an_empty_range_and_a_zero_limit_read_nothing(store: ReadingStore) -> None:
    """Before the first point, after the last, and a limit of 0."""
    tenant, points = _series(store)
    before = _span(tenant, MIN_TIMESTAMP_MS, T0, descending=False)
    after = _span(tenant, points[-1][0] + 1, MAX_TIMESTAMP_MS + 1, descending=True)
    assert _read(store, before, 0, 100) == []
    assert _read(store, after, 0, 100) == []
    assert _read(store, before, 50_000, 100) == []
    whole = _span(tenant, MIN_TIMESTAMP_MS, MAX_TIMESTAMP_MS + 1, descending=False)
    assert _read(store, whole, 0, 0) == []
