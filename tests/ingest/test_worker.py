"""The ingest worker against a real InfluxDB, fed by an in-memory message source."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

import httpx
from support import Services, count_points, make_influx

from edge.protocol import Channel, DeviceTopic, Reading, SensorKind, encode_batch
from ingest.clock import SkewCorrector
from ingest.metrics import IngestMetrics
from ingest.sources.mqtt import InMessage
from ingest.stores.influx import InfluxStore
from ingest.worker import IngestWorker, WorkerOptions
from shinshu.localservices import free_port

NOW_MS = int(time.time() * 1000)
TOPIC = DeviceTopic("t", "s", "d")


@dataclass
class Sent:
    """A publish that the fake broker acknowledged at once."""

    def is_published(self) -> bool:
        """Always acknowledged."""
        return True


@dataclass
class FakeSource:
    """Hands out prepared messages and records acknowledgements and dead letters."""

    messages: list[InMessage]
    acked: list[int] = field(default_factory=list)
    published: list[tuple[str, dict[str, object]]] = field(default_factory=list)

    def get(self, timeout: float) -> InMessage | None:
        """The next prepared message, if any."""
        return self.messages.pop(0) if self.messages else None

    def ack(self, message: InMessage) -> None:
        """Record the acknowledgement."""
        self.acked.append(message.mid)

    def publish(self, topic: str, payload: bytes) -> Sent:
        """Record a dead letter."""
        self.published.append((topic, json.loads(payload)))
        return Sent()


def message(mid: int, kind: SensorKind, count: int) -> InMessage:
    """An uplink message of `count` readings of `kind`."""
    readings = [
        Reading(kind.value, kind, NOW_MS - 1000 * (mid * 100 + i), 1.5) for i in range(count)
    ]
    payload = encode_batch(TOPIC.device, mid, NOW_MS, readings)
    return InMessage(TOPIC.topic(Channel.UP), payload, mid, 1, time.time())


def worker_for(source: FakeSource, store: InfluxStore, metrics: IngestMetrics) -> IngestWorker:
    """A worker with short retry delays."""
    return IngestWorker(
        source,
        store,
        metrics,
        SkewCorrector(300_000, time.time),
        WorkerOptions(
            batch_points=1_000, retry_initial_s=0.01, retry_max_s=0.05, shutdown_grace_s=0.5
        ),
    )


def test_nothing_is_acknowledged_while_the_store_is_down(
    own_services: Services, database: str
) -> None:
    """Writes fail and are retried, no message is acknowledged; once back, all is stored."""
    store = make_influx(own_services.influx, database)
    store.ensure_database()
    own_services.influx.stop()
    source = FakeSource([message(1, SensorKind.AIR_TEMPERATURE, 10)])
    metrics = IngestMetrics()
    worker = worker_for(source, store, metrics)
    worker.accept(source.get(0))  # type: ignore[arg-type]
    result: list[bool] = []
    flushing = threading.Thread(target=lambda: result.append(worker.flush()))
    flushing.start()
    time.sleep(1.0)
    assert source.acked == []
    assert metrics.retries._value.get() >= 3
    assert metrics.store_up._value.get() == 0
    own_services.influx.start()
    flushing.join(30)
    assert result == [True]
    assert source.acked == [1]
    assert count_points(store) == 10


def test_a_stop_during_an_outage_leaves_the_batch_unacknowledged(
    database: str,
) -> None:
    """On shutdown the worker retries only for the grace period, then acknowledges nothing."""
    dead_store = InfluxStore(httpx.Client(base_url=f"http://127.0.0.1:{free_port()}"), database)
    source = FakeSource([message(1, SensorKind.AIR_TEMPERATURE, 10)])
    worker = worker_for(source, dead_store, IngestMetrics())
    stop = threading.Event()
    stop.set()
    began = time.monotonic()
    worker.accept(source.get(0))  # type: ignore[arg-type]
    assert worker.flush(stop) is False
    assert time.monotonic() - began < 5
    assert source.acked == []


def test_lines_the_store_refuses_are_dead_lettered_and_the_rest_stored(
    services: Services, database: str
) -> None:
    """A field type conflict (HTTP 400) refuses one measurement; the others are stored."""
    store = make_influx(services.influx, database)
    store.ensure_database()
    conflict = f'air_temperature,device=x,sensor=x,site=x,tenant=x value="text" {NOW_MS}'
    assert store.write_lines([conflict]) == []
    source = FakeSource(
        [
            message(1, SensorKind.SOIL_MOISTURE, 30),
            message(2, SensorKind.AIR_TEMPERATURE, 3),
            message(3, SensorKind.SOIL_MOISTURE, 30),
        ]
    )
    metrics = IngestMetrics()
    worker = worker_for(source, store, metrics)
    worker.run(_stop_when_empty(source))
    assert source.acked == [1, 2, 3]
    soil = store.query('SELECT count("value") FROM "soil_moisture"')
    assert soil[0]["series"][0]["values"][0][1] == 60
    ((topic, letter),) = source.published
    assert topic == "shinshu/deadletter/t"
    assert letter["seq"] == 2
    assert len(letter["rejected"]) == 3  # type: ignore[arg-type]
    reasons = [item["reason"] for item in letter["rejected"]]  # type: ignore[attr-defined]
    assert all("field type conflict" in reason for reason in reasons)
    assert metrics.stored._value.get() == 60


def _stop_when_empty(source: FakeSource) -> threading.Event:
    """An event set once the source is drained and the last batch had time to flush."""
    stop = threading.Event()

    def watch() -> None:
        while source.messages:
            time.sleep(0.01)
        time.sleep(0.5)
        stop.set()

    threading.Thread(target=watch, daemon=True).start()
    return stop


def test_missing_batch_numbers_are_counted(services: Services, database: str) -> None:
    """A device whose batches 3 and 4 never arrive shows 2 in the gap counter; resends don't."""
    store = make_influx(services.influx, database)
    store.ensure_database()
    source = FakeSource([message(seq, SensorKind.AIR_TEMPERATURE, 1) for seq in (1, 2, 5, 5, 2, 6)])
    metrics = IngestMetrics()
    worker = worker_for(source, store, metrics)
    worker.run(_stop_when_empty(source))
    assert metrics.sequence_gaps._value.get() == 2
    assert source.acked == [1, 2, 5, 5, 2, 6]
