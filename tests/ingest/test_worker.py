"""The ingest worker against a real InfluxDB, fed by an in-memory message source."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from support import Services, count_points, make_influx

from edge.protocol import Channel, DeviceTopic, Reading, SensorKind, encode_batch
from edge.receipts import decode_receipt
from ingest import consumer as worker_module
from ingest.clock import SkewCorrector
from ingest.metrics import IngestMetrics
from ingest.sources.mqtt import InMessage
from ingest.worker import IngestWorker, WorkerOptions
from shinshu.localservices import free_port
from storage.batch import ReadingRefused, Refusals, WriteBatch
from storage.influx.client import InfluxStore, LineRejected
from storage.rollup_marks import RollupMarks

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
    receipts: list[tuple[str, list[int]]] = field(default_factory=list)

    def get(self, timeout: float) -> InMessage | None:
        """The next prepared message, if any."""
        return self.messages.pop(0) if self.messages else None

    def ack(self, message: InMessage) -> None:
        """Record the acknowledgement."""
        self.acked.append(message.mid)

    def publish(self, topic: str, payload: bytes) -> Sent:
        """Record a dead letter, or a receipt to a device."""
        if topic.endswith("/ack"):
            self.receipts.append((topic, decode_receipt(payload)))
        else:
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


@dataclass
class MemoryStore:
    """Keeps written lines; raises for lines holding `explode`, refuses those holding `refuse`."""

    explode: str = "\x00never"
    refuse: str = "\x00never"
    lines: list[str] = field(default_factory=list)
    writes: int = 0

    # Batches encode as InfluxDB's lines, and come back refused as it would refuse them.
    new_batch = InfluxStore.new_batch
    write_batch = InfluxStore.write_batch
    write_points = InfluxStore.write_points

    def write_lines(self, lines: list[str], offset: int = 0) -> list[LineRejected]:
        """Store `lines` but the refused ones; raise an unexpected error for a poisoned one."""
        self.writes += 1
        if any(self.explode in line for line in lines):
            raise RuntimeError("the client broke on this line")
        refused = [
            LineRejected(offset + i, "partial write: field type conflict")
            for i, line in enumerate(lines)
            if self.refuse in line
        ]
        self.lines += [line for line in lines if self.refuse not in line]
        return refused


def memory_worker(source: FakeSource, store: MemoryStore, metrics: IngestMetrics) -> IngestWorker:
    """A worker on the in-memory store."""
    return worker_for(source, store, metrics)  # type: ignore[arg-type]


def raw(mid: int, payload: bytes, channel: Channel = Channel.UP) -> InMessage:
    """A message of TOPIC carrying `payload` as it is."""
    return InMessage(TOPIC.topic(channel), payload, mid, 1, time.time())


def sample(metrics: IngestMetrics, name: str, **labels: str) -> float | None:
    """One sample of the worker's registry."""
    return metrics.registry.get_sample_value(name, labels)


def dead_reasons(source: FakeSource) -> list[str]:
    """Every reason in the dead letters published so far, message and reading alike."""
    found: list[str] = []
    for _topic, letter in source.published:
        if "reason" in letter:
            found.append(str(letter["reason"]))
        found += [str(item["reason"]) for item in letter.get("rejected", [])]  # type: ignore[attr-defined]
    return found


def test_a_store_error_for_one_message_dead_letters_it_and_the_rest_goes_on() -> None:
    """An unexpected exception writing one message costs that message only; all are acked."""
    poisoned = Reading("explodes", SensorKind.AIR_TEMPERATURE, NOW_MS - 5, 1.0)
    bad = InMessage(
        TOPIC.topic(Channel.UP), encode_batch(TOPIC.device, 2, NOW_MS, [poisoned]), 2, 1, 0.0
    )
    source = FakeSource([message(1, SensorKind.SOIL_MOISTURE, 3), bad])
    source.messages += [message(3, SensorKind.SOIL_MOISTURE, 4)]
    store = MemoryStore(explode="explodes")
    metrics = IngestMetrics()
    memory_worker(source, store, metrics).run(_stop_when_empty(source))
    assert source.acked == [1, 2, 3]
    assert len(store.lines) == 7
    ((topic, letter),) = source.published
    assert topic == "shinshu/deadletter/t"
    assert letter["reason"] == "internal error: RuntimeError: the client broke on this line"
    assert json.loads(str(letter["payload"]))["seq"] == 2
    assert sample(metrics, "shinshu_ingest_readings_dead_lettered_total", reason="failed") == 1
    assert sample(metrics, "shinshu_ingest_readings_stored_total") == 7
    assert sample(metrics, "shinshu_ingest_messages_total") == 3


def test_an_exception_while_parsing_dead_letters_the_message_and_later_ones_are_stored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug hit by one message is logged, that message dead-lettered, the next one stored."""
    real_parse = worker_module.parse_message

    def parse(topic: str, payload: bytes, *args: Any, **kwargs: Any) -> Any:
        """parse_message, with a bug that batch 2 runs into."""
        if b'"seq":2,' in payload:
            raise KeyError("a bug")
        return real_parse(topic, payload, *args, **kwargs)

    monkeypatch.setattr(worker_module, "parse_message", parse)
    source = FakeSource([message(mid, SensorKind.AIR_TEMPERATURE, 2) for mid in (1, 2, 3)])
    store = MemoryStore()
    metrics = IngestMetrics()
    memory_worker(source, store, metrics).run(_stop_when_empty(source))
    assert source.acked == [1, 2, 3]
    assert len(store.lines) == 4
    assert dead_reasons(source) == ["internal error: KeyError: 'a bug'"]
    assert sample(metrics, "shinshu_ingest_readings_dead_lettered_total", reason="failed") == 1


def test_poison_payloads_are_dead_lettered_by_reason_and_the_worker_goes_on() -> None:
    """Deep nesting, a list as kind, an oversized payload: each dead-lettered and counted."""
    good = {"t": NOW_MS - 10, "k": "air_temperature", "v": 1.0}

    def batch(seq: int, readings: object) -> bytes:
        """A batch of TOPIC's device."""
        doc = {"v": 1, "device": TOPIC.device, "seq": seq, "sent": NOW_MS, "readings": readings}
        return json.dumps(doc).encode()

    huge = b'{"v": 1,' + "川".encode() * 400_000 + b"}"
    source = FakeSource(
        [
            raw(1, b"[" * 2_000 + b"]" * 2_000),
            raw(2, batch(2, [good, {**good, "k": ["air_temperature"]}, {**good, "k": None}])),
            raw(3, huge),
            raw(4, b'{"v":1,"device":["d"],"state":"online"}', Channel.STATUS),
            raw(5, batch(5, [good])),
        ]
    )
    store = MemoryStore()
    metrics = IngestMetrics()
    memory_worker(source, store, metrics).run(_stop_when_empty(source))
    assert source.acked == [1, 2, 3, 4, 5]
    assert len(store.lines) == 2
    reasons = dead_reasons(source)
    assert reasons == [
        "payload is nested deeper than 32 levels",
        "unknown sensor kind ['air_temperature']",
        "unknown sensor kind None",
        f"message of {len(huge)} bytes exceeds the limit of 262144",
        "status has no device id",
    ]
    dead = "shinshu_ingest_readings_dead_lettered_total"
    assert sample(metrics, dead, reason="invalid_message") == 1
    assert sample(metrics, dead, reason="invalid_reading") == 2
    assert sample(metrics, dead, reason="oversized") == 1
    assert sample(metrics, dead, reason="invalid_status") == 1
    # The oversized payload travels as its first KiB (whole characters) with length and digest.
    letter = source.published[2][1]
    assert letter["payload_truncated"] is True
    assert letter["payload_encoding"] == "utf-8"
    # 8 bytes, then 338 three-byte characters: the 339th would end past byte 1,024.
    assert letter["payload_prefix_bytes"] == 1_022
    assert str(letter["payload"]).encode() == huge[:1_022]
    assert letter["payload_bytes"] == len(huge)
    assert letter["payload_sha256"] == hashlib.sha256(huge).hexdigest()


def test_an_oversized_binary_payload_is_kept_as_base64_of_its_first_kib() -> None:
    """Bytes that are not UTF-8 travel as base64, still cut at 1,024 bytes."""
    blob = bytes(range(256)) * 2_000
    source = FakeSource([raw(1, blob)])
    memory_worker(source, MemoryStore(), IngestMetrics()).run(_stop_when_empty(source))
    ((_topic, letter),) = source.published
    assert letter["payload_encoding"] == "base64"
    assert base64.b64decode(str(letter["payload"])) == blob[:1_024]
    assert letter["payload_sha256"] == hashlib.sha256(blob).hexdigest()


def test_a_status_point_the_store_refuses_is_dead_lettered() -> None:
    """Like a refused reading, a refused status point goes back with the store's reason."""
    status = b'{"v":1,"device":"d","state":"online","version":"refuse-me"}'
    source = FakeSource([raw(1, status, Channel.STATUS), message(2, SensorKind.RAINFALL, 2)])
    store = MemoryStore(refuse="refuse-me")
    metrics = IngestMetrics()
    memory_worker(source, store, metrics).run(_stop_when_empty(source))
    assert source.acked == [1, 2]
    ((topic, letter),) = source.published
    assert topic == "shinshu/deadletter/t"
    assert letter["reason"] == "store refused: partial write: field type conflict"
    assert letter["payload"] == status.decode()
    assert letter["source_topic"] == TOPIC.topic(Channel.STATUS)
    dead = "shinshu_ingest_readings_dead_lettered_total"
    assert sample(metrics, dead, reason="store_rejected") == 1
    assert sample(metrics, "shinshu_ingest_status_messages_total") == 0
    assert sample(metrics, "shinshu_ingest_readings_stored_total") == 2


class NonsenseStore(MemoryStore):
    """Answers its first write by refusing a reading that was never written."""

    def write_batch(self, batch: WriteBatch[str]) -> Refusals:
        """Refuse reading 10,000 the first time; store normally after."""
        if self.writes == 0:
            self.writes += 1
            never = Reading("never", SensorKind.AIR_TEMPERATURE, NOW_MS, 0.0)
            return Refusals([ReadingRefused(10_000, 0, never, "no such line")], [])
        return InfluxStore.write_batch(self, batch)  # type: ignore[arg-type]


def test_a_bug_while_storing_a_batch_dead_letters_its_messages_and_the_next_batch_is_stored() -> (
    None
):
    """The writer's last resort: the batch it cannot settle is dead-lettered and acknowledged."""
    source = FakeSource([message(mid, SensorKind.AIR_TEMPERATURE, 2) for mid in (1, 2, 3)])
    store = NonsenseStore()
    metrics = IngestMetrics()
    worker = memory_worker(source, store, metrics)
    worker.accept(source.get(0))  # type: ignore[arg-type]
    worker.accept(source.get(0))  # type: ignore[arg-type]
    assert worker.flush() is True
    assert source.acked == [1, 2]
    reasons = [str(letter["reason"]) for _topic, letter in source.published]
    assert len(reasons) == 2 and all(r.startswith("internal error: ") for r in reasons), reasons
    worker.accept(source.get(0))  # type: ignore[arg-type]
    assert worker.flush() is True
    assert source.acked == [1, 2, 3]
    assert len(store.lines) == 2
    assert sample(metrics, "shinshu_ingest_readings_dead_lettered_total", reason="failed") == 2
    assert sample(metrics, "shinshu_ingest_messages_total") == 3


def marking_worker(
    source: FakeSource, store: MemoryStore, options: WorkerOptions | None = None
) -> IngestWorker:
    """A worker on the in-memory store that marks rollup hours after each write."""
    return IngestWorker(
        source,
        store,  # type: ignore[arg-type]
        IngestMetrics(),
        SkewCorrector(300_000, time.time),
        options or WorkerOptions(retry_initial_s=0.01, retry_max_s=0.05, shutdown_grace_s=0.3),
        marks=RollupMarks(store, writer="w1"),  # type: ignore[arg-type]
    )


def test_a_stored_batch_marks_the_hours_its_readings_touch() -> None:
    """With rollups enabled, each series' hours are marked by this writer after the write."""
    source = FakeSource([message(1, SensorKind.AIR_TEMPERATURE, 3)])
    store = MemoryStore()
    worker = marking_worker(source, store)
    worker.accept(source.get(0))  # type: ignore[arg-type]
    assert worker.flush() is True
    marks = [line for line in store.lines if line.startswith("rollup_marks,")]
    readings = [line for line in store.lines if line.startswith("air_temperature,")]
    assert len(readings) == 3
    assert marks
    assert all("writer=w1" in line for line in marks)
    assert all("device=d" in line and "first_ms=" in line for line in marks)
    assert source.acked == [1]


def test_refused_rollup_marks_leave_the_batch_unacknowledged() -> None:
    """Marks the store refuses count as an outage: the batch is not acknowledged."""
    source = FakeSource([message(1, SensorKind.AIR_TEMPERATURE, 3)])
    store = MemoryStore(refuse="rollup_marks")
    worker = marking_worker(source, store)
    worker.accept(source.get(0))  # type: ignore[arg-type]
    stop = threading.Event()
    stop.set()
    assert worker.flush(stop) is False
    assert source.acked == []
    assert store.writes >= 2


def test_an_idle_writer_stores_a_message_at_once_whatever_the_batch_age() -> None:
    """Group commit: with a 30 s batch age, a lone message is still acknowledged at once."""
    source = FakeSource([message(1, SensorKind.AIR_TEMPERATURE, 2)])
    store = MemoryStore()
    worker = IngestWorker(
        source,
        store,  # type: ignore[arg-type]
        IngestMetrics(),
        SkewCorrector(300_000, time.time),
        WorkerOptions(batch_seconds=30.0, group_commit=True),
    )
    stop = threading.Event()
    running = threading.Thread(target=worker.run, args=(stop,))
    began = time.monotonic()
    running.start()
    while not source.acked and time.monotonic() - began < 5:
        time.sleep(0.001)
    took = time.monotonic() - began
    stop.set()
    running.join(10)
    assert source.acked == [1]
    assert took < 1.0
    assert len(store.lines) == 2
