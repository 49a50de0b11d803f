"""Poison messages against real Mosquitto, ingest and InfluxDB: each dead-lettered, none fatal."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from support import (
    DeadLetterInbox,
    IngestFactory,
    ServiceProcess,
    Services,
    count_points,
    deep_json,
    make_influx,
    status_payloads,
    uplink_payloads,
    wait_until,
)

from edge.mqtt import Publisher, close_client, connect, make_client
from edge.protocol import Channel, DeviceTopic, Reading, SensorKind, encode_batch

pytestmark = pytest.mark.integration

NOW_MS = int(time.time() * 1000)
TENANT = "t-poison"
DEAD = "shinshu_ingest_readings_dead_lettered_total"


@dataclass(frozen=True)
class Poison:
    """One poison message: where it goes, what it holds, and how ingest must answer it."""

    channel: Channel
    payload: bytes
    reason: str
    label: str
    # Valid readings beside the poisoned one, which must be stored all the same.
    stored: int = 0


def good(offset: int) -> dict[str, Any]:
    """A valid air-temperature reading."""
    return {"t": NOW_MS - 60_000 + offset, "k": "air_temperature", "v": 12.5}


def batch(readings: Any, **changes: Any) -> bytes:
    """A batch of device `d`, built by hand so that it can break the rules."""
    doc: dict[str, Any] = {"v": 1, "device": "d", "seq": 1, "sent": NOW_MS, "readings": readings}
    doc.update(changes)
    return json.dumps(doc).encode()


def with_bad(item: dict[str, Any]) -> bytes:
    """A batch of one good reading and `item`."""
    return batch([good(0), item])


def status(**changes: Any) -> bytes:
    """A status of device `d`."""
    doc: dict[str, Any] = {"v": 1, "device": "d", "state": "online"}
    doc.update(changes)
    return json.dumps(doc).encode()


TEN_MB = b'{"v":1,"pad":"' + b"x" * 10_000_000 + b'"}'
UP, STATUS = Channel.UP, Channel.STATUS
POISON = [
    Poison(UP, deep_json(2_000), "payload is nested deeper than 32 levels", "invalid_message"),
    Poison(
        UP,
        with_bad({**good(1), "x": 0}).replace(b'"x": 0', b'"x": ' + deep_json(2_000)),
        "payload is nested deeper than 32 levels",
        "invalid_message",
    ),
    Poison(UP, b"[" * 200_000, "payload is nested deeper than 32 levels", "invalid_message"),
    Poison(
        UP,
        with_bad({**good(1), "k": ["air_temperature"]}),
        "unknown sensor kind ['air_temperature']",
        "invalid_reading",
        1,
    ),
    Poison(
        UP,
        with_bad({**good(1), "k": {"air_temperature": 1}}),
        "unknown sensor kind {'air_temperature': 1}",
        "invalid_reading",
        1,
    ),
    Poison(UP, with_bad({**good(1), "k": None}), "unknown sensor kind None", "invalid_reading", 1),
    Poison(
        UP,
        batch({"0": good(0)}),
        "field 'readings' must be a non-empty list",
        "invalid_message",
    ),
    Poison(
        UP,
        with_bad({**good(1), "v": 5.5}).replace(b"5.5", b"1e400"),
        "value 'v' is not finite",
        "invalid_reading",
        1,
    ),
    Poison(
        UP,
        with_bad({**good(1), "t": 2**64 + 1}),
        "timestamp 18446744073709551617 is later than the batch's send time",
        "invalid_reading",
        1,
    ),
    Poison(
        UP,
        with_bad({**good(1), "v": 2**64 + 1}),
        "value 1.8446744073709552e+19 °C is outside -60..70",
        "invalid_reading",
        1,
    ),
    Poison(UP, with_bad({**good(1), "v": 10**400}), "°C is outside -60..70", "invalid_reading", 1),
    Poison(
        UP, batch([good(0)], seq=2**64 + 1), "'seq' is larger than 2**63 - 1", "invalid_message"
    ),
    Poison(
        UP, batch([good(0)], sent=2**64 + 1), "'sent' is larger than 2**63 - 1", "invalid_message"
    ),
    Poison(
        UP,
        batch([good(0)], seq=0).replace(b'"seq": 0', b'"seq": ' + b"9" * 5_000),
        "payload holds an integer too long to read",
        "invalid_message",
    ),
    Poison(UP, b"\xff\xfe" + batch([good(0)]), "payload is not UTF-8", "invalid_message"),
    Poison(UP, TEN_MB, f"message of {len(TEN_MB)} bytes exceeds the limit of 262144", "oversized"),
    Poison(UP, batch([good(0)], v=1.0), "unsupported schema version 1.0", "invalid_message"),
    Poison(UP, batch([good(0)], v=True), "unsupported schema version True", "invalid_message"),
    Poison(UP, batch([good(0)], v="1"), "unsupported schema version '1'", "invalid_message"),
    Poison(
        UP,
        with_bad({**good(1), "s": "\ud800"}),
        "sensor contains the unpaired surrogate U+D800",
        "invalid_reading",
        1,
    ),
    Poison(
        UP,
        with_bad({**good(1), "k": "\ud800"}),
        "unknown sensor kind '\\ud800'",
        "invalid_reading",
        1,
    ),
    Poison(STATUS, status(device=["d"]), "status has no device id", "invalid_status"),
    Poison(
        STATUS,
        status(x=0).replace(b'"x": 0', b'"x": ' + deep_json(3_000)),
        "payload is nested deeper than 32 levels",
        "invalid_status",
    ),
    Poison(STATUS, status(time=2**64 + 1), "'time' is larger than 2**63 - 1", "invalid_status"),
    Poison(STATUS, status(version="1\nx"), "printable text", "invalid_status"),
    Poison(STATUS, status(state={"on": 1}), "unknown agent state {'on': 1}", "invalid_status"),
    Poison(STATUS, b"\xc3\x28", "payload is not UTF-8", "invalid_status"),
    Poison(
        STATUS, b" " * 100_000, "status of 100000 bytes exceeds the limit of 65536", "oversized"
    ),
]


def poison_topic(index: int, channel: Channel) -> str:
    """Each poison message on a device of its own, so that its letter is told apart."""
    return f"shinshu/v1/{TENANT}/site/p{index}/{channel.value}"


def poison_payload(index: int, poison: Poison) -> bytes:
    """The payload with its device renamed after its topic's, so only the poison is wrong."""
    return poison.payload.replace(b'"device": "d"', f'"device": "p{index}"'.encode(), 1)


def valid_batch(index: int) -> tuple[str, bytes]:
    """Three valid readings of a device of their own."""
    device = DeviceTopic(TENANT, "site", f"g{index}")
    readings = [
        Reading("air_temperature", SensorKind.AIR_TEMPERATURE, NOW_MS - 1_000 * i, 10.0 + i)
        for i in range(3)
    ]
    return device.topic(Channel.UP), encode_batch(device.device, index, NOW_MS, readings)


def retained_messages(services: Services) -> int:
    """How many retained messages (device statuses of earlier tests) a new subscriber gets."""
    endpoint = services.endpoint()
    client = make_client(endpoint, f"retained-{time.monotonic_ns()}")
    seen: list[float] = []

    def on_message(_c: object, _u: object, message: paho.MQTTMessage) -> None:
        """Note when each retained message came."""
        if message.retain:
            seen.append(time.monotonic())

    client.on_message = on_message
    subscribed = threading.Event()
    client.on_subscribe = lambda *_args: subscribed.set()
    connect(client, endpoint)
    client.subscribe("shinshu/v1/#", qos=1)
    assert subscribed.wait(5)
    # The broker sends them right after the SUBACK; half a second of quiet means all are in.
    started = time.monotonic()
    while time.monotonic() - max([started, *seen]) < 0.5:
        time.sleep(0.05)
    close_client(client)
    return len(seen)


def started_ingest(
    services: Services, database: str, ingest_factory: IngestFactory
) -> tuple[ServiceProcess, dict[str, float]]:
    """An ingest worker, and its metrics once it has dealt with the retained messages."""
    retained = retained_messages(services)
    worker = ingest_factory(services, database)
    # Retained configuration is downlink, counted apart from the device messages.
    wait_until(
        lambda: (
            worker.metrics()["shinshu_ingest_messages_total"]
            + worker.metrics()["shinshu_ingest_downlink_messages_total"]
            >= retained
        ),
        20,
        f"the {retained} retained message(s)",
    )
    return worker, worker.metrics()


def letter_reasons(record: dict[str, Any]) -> list[str]:
    """The reasons in one dead-letter record."""
    if "reason" in record:
        return [record["reason"]]
    return [item["reason"] for item in record["rejected"]]


def test_poison_is_dead_lettered_and_valid_batches_around_it_are_stored(
    services: Services, database: str, ingest_factory: IngestFactory
) -> None:
    """The same ingest process deals with every poison message; every valid reading is stored."""
    inbox = DeadLetterInbox(services)
    worker, before = started_ingest(services, database, ingest_factory)
    assert worker.proc is not None
    pid = worker.proc.pid
    endpoint = services.endpoint()
    client = make_client(endpoint, f"poisoner-{time.monotonic_ns()}")
    publisher = Publisher(client)
    connect(client, endpoint)
    for index, poison in enumerate(POISON):
        publisher.publish(poison_topic(index, poison.channel), poison_payload(index, poison))
        publisher.publish(*valid_batch(index))
    assert publisher.flush(60)

    def ours() -> list[dict[str, Any]]:
        """The dead letters of this test's tenant."""
        return [r for topic, r in inbox.snapshot() if topic == f"shinshu/deadletter/{TENANT}"]

    wait_until(lambda: len(ours()) >= len(POISON), 30, "a dead letter for each poison")
    letters = {record["source_topic"]: record for record in ours()}
    assert len(ours()) == len(letters) == len(POISON)
    for index, poison in enumerate(POISON):
        record = letters[poison_topic(index, poison.channel)]
        (reason,) = letter_reasons(record)
        assert poison.reason in reason, (index, poison.reason, reason)
    # 10 MB come back as their first KiB, their length and their digest.
    big = letters[poison_topic(POISON.index(next(p for p in POISON if p.payload is TEN_MB)), UP)]
    assert big["payload"] == TEN_MB[:1_024].decode()
    assert big["payload_bytes"] == len(TEN_MB)
    assert big["payload_sha256"] == hashlib.sha256(TEN_MB).hexdigest()

    expected = 3 * len(POISON) + sum(poison.stored for poison in POISON)
    store = make_influx(services.influx, database)
    wait_until(lambda: count_points(store) >= expected, 30, f"{expected} valid readings")
    metrics = worker.metrics()

    def grew(name: str) -> float:
        """How much a metric grew since the worker dealt with the retained messages."""
        return metrics[name] - before[name]

    assert count_points(store) == expected
    assert grew("shinshu_ingest_readings_stored_total") == expected
    assert grew("shinshu_ingest_messages_total") == 2 * len(POISON)
    for label in ("invalid_message", "invalid_reading", "invalid_status", "oversized"):
        count = sum(1 for poison in POISON if poison.label == label)
        assert grew(f'{DEAD}{{reason="{label}"}}') == count, label
    assert metrics[f'{DEAD}{{reason="failed"}}'] == 0
    assert metrics[f'{DEAD}{{reason="store_rejected"}}'] == 0
    # Still the same process, still running.
    assert worker.proc.pid == pid and worker.proc.poll() is None
    close_client(client)
    inbox.close()


_DEVICES = [f"d{i}" for i in range(4)]
_SAFE_TEXT = st.text(
    # Letters, digits, punctuation and spaces: what a broker takes as a topic (no wildcards).
    st.characters(codec="utf-8", categories=("L", "N", "P", "Zs"), exclude_characters="+#"),
    max_size=24,
)


def _device_message(device: str) -> st.SearchStrategy[tuple[str, bytes]]:
    """Messages on `device`'s up and status topics."""
    topic = DeviceTopic("t-fuzz", "site", device)
    return st.one_of(
        st.tuples(st.just(topic.topic(Channel.UP)), uplink_payloads(device, NOW_MS)),
        st.tuples(st.just(topic.topic(Channel.STATUS)), status_payloads(device)),
    )


_MESSAGES = st.one_of(
    st.sampled_from(_DEVICES).flatmap(_device_message),
    st.tuples(_SAFE_TEXT.map(lambda rest: f"shinshu/v1/{rest}"), uplink_payloads("d0", NOW_MS)),
)


def test_thousands_of_generated_messages_are_all_dealt_with(
    services: Services, database: str, ingest_factory: IngestFactory
) -> None:
    """2,000 generated messages: ingest never exits and acknowledges exactly that many."""
    worker, before = started_ingest(services, database, ingest_factory)
    assert worker.proc is not None
    pid = worker.proc.pid
    endpoint = services.endpoint()
    client = make_client(endpoint, f"fuzzer-{time.monotonic_ns()}")
    publisher = Publisher(client)
    connect(client, endpoint)
    published: list[int] = []

    @seed(20_251_202)
    @settings(
        max_examples=2_000,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(message=_MESSAGES)
    def publish(message: tuple[str, bytes]) -> None:
        """Publish one generated message."""
        publisher.publish(*message)
        published.append(len(message[1]))

    publish()
    assert len(published) >= 2_000
    assert publisher.flush(60)
    total = before["shinshu_ingest_messages_total"] + len(published)
    wait_until(
        lambda: worker.metrics()["shinshu_ingest_messages_total"] >= total,
        40,
        f"{len(published)} messages acknowledged",
    )
    time.sleep(0.5)  # nothing beyond what was published may be counted either
    metrics = worker.metrics()
    assert metrics["shinshu_ingest_messages_total"] == total
    assert metrics[f'{DEAD}{{reason="failed"}}'] == 0
    assert worker.proc.pid == pid and worker.proc.poll() is None
    close_client(client)
