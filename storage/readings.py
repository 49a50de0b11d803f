"""The API's read model of readings: catalogue, device status, readings, aggregates, exports.

Storage layout: see `storage.layout`. Every read is a typed `Select` with the tenant first in
its filter; aggregates are computed by the store (buckets of time), never in Python.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from core.cache import TtlCache
from core.time import MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE, parse_duration_ms
from edge.protocol import MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS, SensorKind
from storage.batch import SeriesId
from storage.catalogue import Catalogue, DeviceStatus, SeriesKey
from storage.errors import DatabaseNotFoundError, QueryError, StoreDownError, StoreError
from storage.exportwindow import ExportBatch, Window, export_batch, series_key
from storage.layout import (
    DEVICE,
    GAP_FIELD,
    READING_MEASUREMENTS,
    SERIES_TAGS,
    SHIFT_FIELD,
    SITE,
    STATUS_MEASUREMENT,
    VALUE,
)
from storage.protocol import ReadingStore
from storage.query import Aggregate, Buckets, Function, Rows, Select, SeriesColumns, match
from storage.rollup_read import ROLLED_WIDTHS, rolled_aggregates

log = logging.getLogger(__name__)

_T = TypeVar("_T")

MAX_BUCKETS = 10_000
AGGREGATE_CACHE_ENTRIES = 1_024
# The catalogue is read in full once in this many refreshes, incrementally in between, and an
# incremental read reaches this far back before the previous one.
FULL_READ_EVERY = 20
CATALOGUE_OVERLAP_MS = 10 * MS_PER_MINUTE


def from_store(read: Callable[[], _T], empty: _T) -> _T:
    """Run a store read: `empty` if the database does not exist yet, else StoreDownError."""
    try:
        return read()
    except DatabaseNotFoundError:
        return empty
    except StoreError as exc:
        raise StoreDownError(str(exc)) from exc


def rows_of(store: ReadingStore, select: Select) -> list[Rows]:
    """The answer of a read (nothing from a database not created yet); StoreDownError."""
    return from_store(lambda: store.rows(select), [])


class Interval(StrEnum):
    """Aggregate bucket widths, as the API names them; buckets align to UTC (midnight for 1d)."""

    MINUTE = "1m"
    FIVE_MINUTES = "5m"
    FIFTEEN_MINUTES = "15m"
    HOUR = "1h"
    SIX_HOURS = "6h"
    DAY = "1d"

    @property
    def ms(self) -> int:
        """Width in milliseconds."""
        return parse_duration_ms(self.value)


class AggregateFunction(StrEnum):
    """Functions the store computes per bucket."""

    MEAN = "mean"
    MIN = "min"
    MAX = "max"
    COUNT = "count"


@dataclass(frozen=True, slots=True)
class Reading:
    """One stored point."""

    time_ms: int
    value: float


def check_range(start_ms: int, end_ms: int) -> None:
    """Refuse an empty, reversed or out-of-bounds time range."""
    if not MIN_TIMESTAMP_MS <= start_ms < end_ms <= MAX_TIMESTAMP_MS:
        raise QueryError("need 2000-01-01 <= start < end <= 2100-01-01 (UTC)")


def _readings_of(
    tenant: str, sites: Sequence[str], kinds: Sequence[SensorKind], start_ms: int, end_ms: int
) -> dict[str, Any]:
    """The parts of a select of every series of `sites` and `kinds` in [start, end)."""
    return {
        "measurements": tuple(k.value for k in dict.fromkeys(kinds)),
        "where": match(tenant=tenant, site=sites),
        "fields": (VALUE,),
        "start_ms": start_ms,
        "end_ms": end_ms,
        "group_by": SERIES_TAGS,
    }


def _of_series(tenant: str, key: SeriesKey) -> dict[str, Any]:
    """The parts of a select that pick one series of a tenant."""
    return {
        "measurements": (key.kind.value,),
        "where": match(tenant=tenant, site=key.site, device=key.device, sensor=key.sensor),
    }


class Reader:
    """Runs the API's queries on one store; the catalogue is cached per tenant for a few seconds."""

    def __init__(
        self,
        store: ReadingStore,
        catalogue_ttl_s: float = 5.0,
        aggregate_ttl_s: float = 0.0,
        *,
        rollups: bool = False,
    ) -> None:
        """Read from `store`; answers may be cached for the given seconds (0: never);
        `rollups`: 1h, 6h and 1d aggregates read hourly rollups where they are current."""
        self._store = store
        self._rollups = rollups
        self._ttl = catalogue_ttl_s
        # When an aggregate expires under many viewers of one chart, one store query serves
        # them all; the others would only queue behind it in InfluxDB.
        self._aggregates: TtlCache[list[dict[str, Any]]] = TtlCache(
            aggregate_ttl_s, AGGREGATE_CACHE_ENTRIES
        )
        self._cache: dict[str, tuple[float, Catalogue]] = {}
        self._reads: dict[str, int] = {}
        self._read_at_ms: dict[str, int] = {}
        self._refreshing: set[str] = set()
        self._lock = threading.Lock()

    @property
    def store(self) -> ReadingStore:
        """The store read from (for reads this class does not shape, e.g. the STA API's)."""
        return self._store

    def _query(self, select: Select) -> list[Rows]:
        return rows_of(self._store, select)

    def _columns(self, select: Select) -> list[SeriesColumns]:
        """Like `_query`, for answers of many points: each series as arrays."""
        return from_store(lambda: self._store.columns(select), [])

    def ready(self) -> bool:
        """Whether the store answers queries."""
        return self._store.ready()

    def catalogue(self, tenant: str) -> Catalogue:
        """The tenant's series and when each last reported.

        A year of data makes `last()` cost hundreds of milliseconds, so a cached catalogue is
        served for `catalogue_ttl_s` and, once stale, still served while one background thread
        refreshes it: status lists stay fast and at most one refresh per tenant is in flight.
        """
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(tenant)
            stale = cached is not None and now - cached[0] >= self._ttl
            refresh = stale and self._ttl > 0 and tenant not in self._refreshing
            if refresh:
                self._refreshing.add(tenant)
        if cached is not None and self._ttl > 0:
            if refresh:
                threading.Thread(target=self._refresh, args=(tenant,), daemon=True).start()
            return cached[1]
        return self._load(tenant)

    def _device_status(self, tenant: str) -> dict[tuple[str, str], DeviceStatus]:
        """Each device's newest status point; spool figures are the last ones it reported.

        The last will (offline) carries no spool figures, so those come from the newest point
        that had them.
        """
        of_tenant = {
            "measurements": (STATUS_MEASUREMENT,),
            "where": match(tenant=tenant),
            "group_by": (SITE, DEVICE),
        }
        newest = self._query(Select(fields=("online",), descending=True, limit=1, **of_tenant))
        spool = self._query(
            Select(
                aggregates=(
                    Aggregate(Function.LAST, "spool_readings", "readings"),
                    Aggregate(Function.LAST, "spool_dropped", "dropped"),
                ),
                **of_tenant,
            )
        )
        figures = {(s.tags[SITE], s.tags[DEVICE]): (s.values[0][1], s.values[0][2]) for s in spool}
        out = {}
        for serie in newest:
            key = serie.tags[SITE], serie.tags[DEVICE]
            at_ms, online = serie.values[0][:2]
            readings, dropped = figures.get(key, (None, None))
            out[key] = DeviceStatus(bool(online), int(at_ms), readings, dropped)
        return out

    def _refresh(self, tenant: str) -> None:
        try:
            self._load(tenant)
        except StoreDownError:
            log.warning("could not refresh the catalogue of a tenant", exc_info=True)
        finally:
            with self._lock:
                self._refreshing.discard(tenant)

    def _load(self, tenant: str) -> Catalogue:
        """Read the catalogue: in full at first and every few refreshes, else incrementally.

        `last()` over all history is the API's most expensive query, and a refresh competes
        with the requests it serves. Between full reads, a refresh asks only for points
        stamped since shortly before the newest reading it knew (or the previous read's wall
        time, if that is earlier) and merges them in: a reading that arrives late (a spool
        drained after an outage) still carries a recent timestamp, and data whose "now" lies
        in the past (a replayed simulation) keeps its own clock. Points written with older
        timestamps for a series show up at the next full read.
        """
        began = time.monotonic()
        wall_ms = int(time.time() * 1000)
        with self._lock:
            cached = self._cache.get(tenant)
            reads = self._reads.get(tenant, 0)
        incremental = cached is not None and reads % FULL_READ_EVERY != 0
        since = None
        if incremental and cached is not None:
            newest = max(cached[1].last_seen.values(), default=0)
            since = min(newest, self._read_at_ms[tenant]) - CATALOGUE_OVERLAP_MS
        series = self._query(
            Select(
                READING_MEASUREMENTS,
                match(tenant=tenant),
                aggregates=(Aggregate(Function.LAST),),
                start_ms=since,
                group_by=SERIES_TAGS,
            )
        )
        found = {series_key(s): int(s.values[0][0]) for s in series}
        if incremental and cached is not None:
            last_seen = dict(cached[1].last_seen)
            for key, seen in found.items():
                last_seen[key] = max(seen, last_seen.get(key, seen))
        else:
            last_seen = found
        catalogue = Catalogue(last_seen, self._device_status(tenant))
        with self._lock:
            self._cache[tenant] = (began, catalogue)
            self._reads[tenant] = reads + 1
            self._read_at_ms[tenant] = wall_ms
        return catalogue

    def readings(
        self, tenant: str, key: SeriesKey, start_ms: int, end_ms: int, limit: int
    ) -> list[Reading]:
        """Up to `limit` points of one series in [start, end), oldest first."""
        check_range(start_ms, end_ms)
        series = self._query(
            Select(
                fields=(VALUE,),
                start_ms=start_ms,
                end_ms=end_ms,
                limit=int(limit),
                **_of_series(tenant, key),
            )
        )
        return [Reading(int(t), float(v)) for s in series for t, v in s.values]

    def aggregates(
        self,
        tenant: str,
        key: SeriesKey,
        *,
        start_ms: int,
        end_ms: int,
        interval: Interval,
        functions: Sequence[AggregateFunction],
    ) -> list[dict[str, Any]]:
        """Per-bucket results computed by InfluxDB; empty buckets are left out."""
        check_range(start_ms, end_ms)
        if (end_ms - start_ms) // interval.ms > MAX_BUCKETS:
            raise QueryError(f"more than {MAX_BUCKETS} buckets: widen the interval")
        chosen = list(dict.fromkeys(functions)) or list(AggregateFunction)
        select = Select(
            aggregates=tuple(Aggregate(Function(f.value)) for f in chosen),
            start_ms=start_ms,
            end_ms=end_ms,
            buckets=Buckets(interval.ms),
            **_of_series(tenant, key),
        )
        # The select names tenant, series, range, interval and functions: it is the answer's key.
        if not self._rollups or interval.ms not in ROLLED_WIDTHS:
            return self._aggregates.get(select, lambda: self._aggregate_rows(select))
        series = SeriesId(key.kind, tenant, key.site, key.device, key.sensor)
        names = [f.value for f in chosen]
        return self._aggregates.get(
            (select, "rollups"), lambda: self._rolled_rows(select, series, names)
        )

    def _aggregate_rows(self, select: Select) -> list[dict[str, Any]]:
        """The rows of an aggregate query, one dict per bucket."""
        return [row for s in self._query(select) for row in s.records()]

    def _rolled_rows(
        self, select: Select, series: SeriesId, functions: list[str]
    ) -> list[dict[str, Any]]:
        """An aggregate's rows from rollups where current, raw points elsewhere."""
        assert select.start_ms is not None and select.end_ms is not None
        assert select.buckets is not None
        start, end, width = select.start_ms, select.end_ms, select.buckets.width_ms
        rolled = from_store(
            lambda: rolled_aggregates(
                self._store,
                series,
                start_ms=start,
                end_ms=end,
                width_ms=width,
                functions=functions,
            ),
            None,
        )
        return self._aggregate_rows(select) if rolled is None else rolled

    def first_spacing(
        self,
        tenant: str,
        *,
        sites: Sequence[str],
        kinds: Sequence[SensorKind],
        start_ms: int,
        end_ms: int,
    ) -> dict[SeriesKey, int | None]:
        """Series of the selection with the spacing (ms) of their first two readings in range."""
        check_range(start_ms, end_ms)
        series = self._query(
            Select(limit=2, **_readings_of(tenant, sites, kinds, start_ms, end_ms))
        )
        out: dict[SeriesKey, int | None] = {}
        for s in series:
            times = [int(t) for t, _ in s.values]
            out[series_key(s)] = times[1] - times[0] if len(times) == 2 else None
        return dict(sorted(out.items(), key=lambda item: _key_order(item[0])))

    def export(
        self,
        tenant: str,
        *,
        sites: Sequence[str],
        kinds: Sequence[SensorKind],
        start_ms: int,
        end_ms: int,
        window_rows: int,
    ) -> Iterator[ExportBatch]:
        """Every point of `sites` and `kinds` in [start, end), one time window per batch.

        The window adapts to the data's density so that a batch holds about `window_rows`
        rows: memory stays flat however long the range, and each window is one store query.
        While a batch is being encoded and sent, the store already answers the next window.
        Rows in a batch are ordered by time, then kind, site, device and sensor.
        """
        check_range(start_ms, end_ms)

        def ask(begin: int, stop: int) -> Future[Window]:
            parts = _readings_of(tenant, sites, kinds, begin, stop)
            flags = Select(**{**parts, "fields": (SHIFT_FIELD, GAP_FIELD)})
            return lookahead.submit(self._window, Select(**parts), flags)

        window = MS_PER_HOUR
        begin, stop = start_ms, min(end_ms, start_ms + window)
        with ThreadPoolExecutor(1, thread_name_prefix="export-query") as lookahead:
            pending: Future[Window] | None = ask(begin, stop)
            while pending is not None:
                series, flagged = pending.result()
                count = sum(len(s.times) for s in series)
                # Aim the next window at `window_rows`, growing at most fourfold per step so
                # that a burst of dense data after a sparse stretch cannot blow up one batch.
                density = count / (stop - begin)
                target = window_rows / density if density else window * 4
                window = int(max(MS_PER_MINUTE, min(window * 4, target, 366 * MS_PER_DAY)))
                begin, stop = stop, min(end_ms, stop + window)
                pending = ask(begin, stop) if begin < end_ms else None
                if count:
                    yield export_batch(series, flagged)

    def _window(self, values: Select, flags: Select) -> Window:
        """One window of an export: the values as arrays, and the few points with flags."""
        return self._columns(values), self._query(flags)


def _key_order(key: SeriesKey) -> tuple[str, str, str, str]:
    return (key.site, key.device, key.sensor, key.kind.value)
