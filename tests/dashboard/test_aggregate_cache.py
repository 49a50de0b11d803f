"""Identical aggregate requests that miss the cache together share one store query."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from support import Services, make_influx

from edge.protocol import DeviceTopic, SensorKind
from shinshu.localservices import free_port
from storage.catalogue import SeriesKey
from storage.errors import StoreDownError
from storage.influx.client import InfluxStore
from storage.influx.lineprotocol import series_lines
from storage.readings import AggregateFunction, Interval, Reader

pytestmark = pytest.mark.integration

START_MS = 1_735_689_600_000
KEY = SeriesKey(SensorKind.AIR_TEMPERATURE, "plot", "logger", "t-air")
CALLERS = 20


class _CountingStore(InfluxStore):
    """The real store, counting the queries it runs and taking a little longer over each.

    The pause makes the callers' requests overlap for sure, as they do under load: a query
    waits until every caller has started (`arrive`), then a little longer.
    """

    def __init__(self, *args: Any, callers: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queries = 0
        self._count_lock = threading.Lock()
        self._arrived = 0
        self._callers = callers
        self._all_arrived = threading.Event()

    def arrive(self) -> None:
        """A caller is about to ask; the last of them releases the waiting query."""
        with self._count_lock:
            self._arrived += 1
            if self._arrived >= self._callers:
                self._all_arrived.set()

    def query(self, q: str, *, epoch: str = "ms") -> list[dict[str, Any]]:
        """Count, wait for the callers, pause, then ask InfluxDB."""
        with self._count_lock:
            self.queries += 1
        self._all_arrived.wait(timeout=10)
        time.sleep(0.3)
        return super().query(q, epoch=epoch)


def _arrive_then_aggregate(store: _CountingStore, reader: Reader) -> list[dict[str, Any]]:
    store.arrive()
    return _aggregates(reader)


def _aggregates(reader: Reader) -> list[dict[str, Any]]:
    return reader.aggregates(
        "t1",
        KEY,
        start_ms=START_MS,
        end_ms=START_MS + 86_400_000,
        interval=Interval.HOUR,
        functions=list(AggregateFunction),
    )


def test_concurrent_identical_requests_share_one_query(services: Services, database: str) -> None:
    """Twenty callers at once: one store query, and every caller gets its buckets."""
    plain = make_influx(services.influx, database)
    plain.ensure_database()
    times = [START_MS + i * 600_000 for i in range(144)]
    topic = DeviceTopic("t1", KEY.site, KEY.device)
    lines = series_lines(topic, KEY.sensor, KEY.kind, times, [float(i) for i in range(144)])
    assert plain.write_lines(lines) == []
    client = httpx.Client(base_url=services.influx.url, timeout=10)
    store = _CountingStore(client, database, callers=CALLERS)
    reader = Reader(store, aggregate_ttl_s=60)
    with ThreadPoolExecutor(CALLERS) as pool:
        answers = list(pool.map(lambda _i: _arrive_then_aggregate(store, reader), range(CALLERS)))
    assert store.queries == 1
    assert all(answer == answers[0] for answer in answers)
    assert [row["count"] for row in answers[0]] == [6] * 24
    # Caching off: every request asks the store.
    uncached = Reader(store, aggregate_ttl_s=0)
    _aggregates(uncached)
    _aggregates(uncached)
    assert store.queries == 3


def test_a_failed_query_fails_every_waiting_caller_and_is_not_remembered() -> None:
    """With the store down, all concurrent callers get the error, and a later call asks again."""
    client = httpx.Client(base_url=f"http://127.0.0.1:{free_port()}")
    store = _CountingStore(client, "none", callers=CALLERS)
    reader = Reader(store, aggregate_ttl_s=60)

    def attempt(_i: int) -> str:
        try:
            _arrive_then_aggregate(store, reader)
        except StoreDownError:
            return "down"
        return "answered"

    with ThreadPoolExecutor(CALLERS) as pool:
        assert list(pool.map(attempt, range(CALLERS))) == ["down"] * CALLERS
    assert store.queries == 1
    assert attempt(0) == "down"
    assert store.queries == 2
