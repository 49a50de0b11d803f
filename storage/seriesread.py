"""One series read a page at a time, deep into years of points, at the cost of the page.

InfluxDB 1.x opens every shard a query's time range touches before LIMIT stops it (about 2 ms
a weekly shard: 110 ms for the first 100 points of an unbounded range over a year), and OFFSET
walks each point it skips (about 1.7 µs a point). So a page is read in windows of time, from
the page's first point on, each window sized from the density of the ones before; and the
first point of a page deep in the series is found either where the page before it ended (the
time of the point after each page is remembered a short while: a client follows its next
link at once) or, failing that, by counting the points before it a week, then an hour, at a
time. Nothing here depends on InfluxDB: the SQLite store answers the same reads.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from cachetools import TTLCache

from core.time import MS_PER_DAY, MS_PER_HOUR
from storage.protocol import ReadingStore
from storage.query import Aggregate, Buckets, Function, Match, Select
from storage.readings import from_store, rows_of

Times = npt.NDArray[np.int64]
Values = npt.NDArray[np.float64]

# InfluxDB 1.x's default shard groups are a week long: a first window of one week costs one
# shard, and holds a page of 10 000 points of anything read once a minute or faster.
FIRST_WINDOW_MS = 7 * MS_PER_DAY
# A window grows at most this many times over the one before it: the next is sized from the
# points the one before held, with a quarter to spare.
GROWTH = 16
SPARE = 1.25
# Counted a week, then an hour, at a time: an offset lands within the points of one hour.
SEEK_BUCKETS_MS = (7 * MS_PER_DAY, MS_PER_HOUR)
# Up to this many points to skip are read and dropped (cheaper than counting them), and an
# offset counted to within this many of its point needs no finer count.
SEEK_FINE = 20_000
# Where each page ended, per store, for a minute: clients follow a next link at once.
CURSOR_TTL_S = 60.0
CURSOR_ENTRIES = 4_096


@dataclass(frozen=True, slots=True)
class Span:
    """The points of one series in [start, end), in one order: what a page is a part of."""

    measurement: str
    where: Match
    start_ms: int
    end_ms: int
    descending: bool

    def select(self, start_ms: int, end_ms: int, **extra: object) -> Select:
        """A read of this series' values in [start, end), in this span's order."""
        return Select(
            (self.measurement,),
            self.where,
            fields=("value",),
            start_ms=start_ms,
            end_ms=end_ms,
            descending=self.descending,
            **extra,  # type: ignore[arg-type]
        )


class _Cursors:
    """Per store: the time of the point at an offset of a span, as the last page found it."""

    def __init__(self) -> None:
        """No store has cursors yet."""
        self._by_store: weakref.WeakKeyDictionary[object, TTLCache[object, int]] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def _cache(self, store: object) -> TTLCache[object, int]:
        found = self._by_store.get(store)
        if found is None:
            found = self._by_store[store] = TTLCache(maxsize=CURSOR_ENTRIES, ttl=CURSOR_TTL_S)
        return found

    def get(self, store: object, span: Span, offset: int) -> int | None:
        """The time of the point at `offset`, if a page read lately ended there."""
        with self._lock:
            return self._cache(store).get((span, offset))

    def put(self, store: object, span: Span, offset: int, time_ms: int) -> None:
        """Remember that the point at `offset` of `span` is at `time_ms`."""
        with self._lock:
            self._cache(store)[span, offset] = time_ms


CURSORS = _Cursors()


def columns_of(store: ReadingStore, select: Select) -> tuple[Times, Values]:
    """Times (ms) and values of a read of one series' field, as arrays."""
    answer = from_store(lambda: store.columns(select), [])
    if not answer:
        return _empty()
    times = np.concatenate([c.times for c in answer]).astype(np.int64, copy=False)
    values = np.concatenate([c.values for c in answer]).astype(np.float64, copy=False)
    return times, values


def _counts(store: ReadingStore, span: Span, lo: int, hi: int, width: int) -> list[list[int]]:
    """[bucket start, points] of [lo, hi), in the span's order (empty buckets left out)."""
    select = Select(
        (span.measurement,),
        span.where,
        aggregates=(Aggregate(Function.COUNT),),
        start_ms=lo,
        end_ms=hi,
        buckets=Buckets(width),
    )
    rows = [[int(t), int(c or 0)] for r in rows_of(store, select) for t, c in r.values]
    return sorted(rows, reverse=span.descending)


def _seek(store: ReadingStore, span: Span, offset: int) -> tuple[int, int, int] | None:
    """(lo, hi, rest): skipping `rest` points of [lo, hi) in order reaches the one at `offset`.

    None when the span has no more than `offset` points.
    """
    lo, hi, rest = span.start_ms, span.end_ms, offset
    for width in SEEK_BUCKETS_MS:
        if rest <= SEEK_FINE and width != SEEK_BUCKETS_MS[0]:
            break
        for bucket, count in _counts(store, span, lo, hi, width):
            if rest < count:
                lo, hi = max(lo, bucket), min(hi, bucket + width)
                break
            rest -= count
        else:
            return None
    return lo, hi, rest


def _next_point(store: ReadingStore, span: Span, lo: int, hi: int) -> int | None:
    """The time of the first point of [lo, hi) in the span's order, if there is one."""
    times, _ = columns_of(store, span.select(lo, hi, limit=1))
    return int(times[0]) if len(times) else None


def _next_width(width: int, got: int, need: int) -> int:
    """The next window's width: enough for `need` more at the density of the last window."""
    wanted = int(need * width / got * SPARE) + 1
    return min(max(wanted, width), width * GROWTH)


def read_span(
    store: ReadingStore, span: Span, *, limit: int, offset: int = 0
) -> tuple[Times, Values]:
    """Up to `limit` points of `span` from the one at `offset` on, in the span's order."""
    if limit <= 0 or span.start_ms >= span.end_ms:
        return _empty()
    lo, hi, rest, width = span.start_ms, span.end_ms, 0, FIRST_WINDOW_MS
    known = CURSORS.get(store, span, offset) if offset else None
    if known is not None:
        # The page before ended here: this page starts at that point, nothing to skip.
        if span.descending:
            hi = min(hi, known + 1)
        else:
            lo = max(lo, known)
    elif offset <= SEEK_FINE:
        # Cheaper to read the few points before the page than to count them.
        times, values = _windows(store, span, lo, hi, limit=offset + limit, rest=0, width=width)
        return _remember(
            store, span, offset=offset, limit=limit, times=times[offset:], values=values[offset:]
        )
    else:
        found = _seek(store, span, offset)
        if found is None:
            return _empty()
        # The first window holds the whole stretch the skipped points were counted in.
        b_lo, b_hi, rest = found
        lo, hi = (lo, b_hi) if span.descending else (b_lo, hi)
        width = max(width, b_hi - b_lo)
    times, values = _windows(store, span, lo, hi, limit=limit, rest=rest, width=width)
    return _remember(store, span, offset=offset, limit=limit, times=times, values=values)


def _empty() -> tuple[Times, Values]:
    return np.zeros(0, np.int64), np.zeros(0, np.float64)


def _remember(
    store: ReadingStore, span: Span, *, offset: int, limit: int, times: Times, values: Values
) -> tuple[Times, Values]:
    """The page, after noting where the next one starts (a page of `limit` - 1 plus one)."""
    # Offset 0 is never looked up: a single point read from the start is not worth keeping.
    if len(times) == limit and offset + limit > 1:
        CURSORS.put(store, span, offset + limit - 1, int(times[-1]))
    return times, values


def _windows(
    store: ReadingStore, span: Span, lo: int, hi: int, *, limit: int, rest: int, width: int
) -> tuple[Times, Values]:
    """Up to `limit` points of [lo, hi) after skipping `rest` (all within the first window)."""
    parts: list[tuple[Times, Values]] = []
    need = limit
    while need > 0 and lo < hi:
        w_lo, w_hi = (max(lo, hi - width), hi) if span.descending else (lo, min(hi, lo + width))
        times, values = columns_of(store, span.select(w_lo, w_hi, limit=need, offset=rest))
        lo, hi = (lo, w_lo) if span.descending else (w_hi, hi)
        if not len(times):
            if rest:
                break  # fewer points than counted a moment ago: the series changed; stop here
            # A stretch without points (before the first, after the last, a gap): the next
            # point says where to go on, rather than windows grown blindly over empty years.
            ahead = _next_point(store, span, lo, hi)
            if ahead is None:
                break
            lo, hi = (lo, ahead + 1) if span.descending else (ahead, hi)
            continue
        rest = 0
        parts.append((times, values))
        need -= len(times)
        width = _next_width(w_hi - w_lo, len(times), need)
    if not parts:
        return _empty()
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
