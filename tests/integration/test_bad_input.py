"""Invalid input goes to the dead-letter topic with its reason; everything valid is stored."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from support import (
    DeadLetterInbox,
    IngestFactory,
    Services,
    count_points,
    make_influx,
    run_simulate,
    wait_until,
)

from edge.mqtt import Publisher, connect, make_client
from edge.protocol import Channel, DeviceTopic, Reading, SensorKind, encode_batch

pytestmark = pytest.mark.integration

NOW_MS = int(time.time() * 1000)
YEAR_MS = 365 * 24 * 3600 * 1000


def raw_batch(device: str, readings: list[dict[str, Any]], sent: int = NOW_MS) -> bytes:
    """A payload built by hand, so it can break the rules."""
    doc = {"v": 1, "device": device, "seq": 0, "sent": sent, "readings": readings}
    return json.dumps(doc).encode()


def good(ts_offset: int, value: float = 20.5) -> dict[str, Any]:
    """A valid air-temperature reading."""
    return {"t": NOW_MS - 60_000 + ts_offset, "k": "air_temperature", "v": value}


def test_invalid_input_is_dead_lettered_and_valid_readings_stored(
    services: Services, database: str, ingest_factory: IngestFactory
) -> None:
    """Each kind of invalid item appears on the dead-letter topic; the worker keeps running."""
    inbox = DeadLetterInbox(services)
    worker = ingest_factory(services, database)
    base = "shinshu/v1/t-bad/site"
    messages: list[tuple[str, bytes]] = [
        (f"{base}/d1/up", b"this is not JSON"),
        (f"{base}/d1/up", b"\xc3\x28 not UTF-8"),
        (f"{base}/d2/up", raw_batch("d2", [good(0), {"t": NOW_MS, "k": "laser", "v": 1.0}])),
        (f"{base}/d3/up", raw_batch("d3", [good(0)]).replace(b"20.5", b"NaN")),
        (f"{base}/d3/up", raw_batch("d3", [good(1), good(2, 1e308)]).replace(b"1e+308", b"1e999")),
        (f"{base}/d4/up", raw_batch("d4", [good(0), {**good(5), "t": NOW_MS - 3 * YEAR_MS}])),
        ("shinshu/v1/t-bad/too/short", raw_batch("short", [good(0)])),
        (f"{base}/d5/telemetry", raw_batch("d5", [good(0)])),
        (f"{base}/d6/up", raw_batch("someone-else", [good(0)])),
        (f"{base}/d7/up", raw_batch("d7", [good(i) for i in range(4000)]) + b" " * 300_000),
        (f"{base}/d8/up", raw_batch("d8", [good(0), {**good(1), "s": "probe\nnewline"}])),
    ]
    expected_reasons = [
        "payload is not JSON",
        "payload is not UTF-8",
        "unknown sensor kind 'laser'",
        "value 'v' is not finite",
        "value 'v' is not finite",
        "over a year before the batch's send time",
        "is not of the form shinshu/v1/tenant/site/device/channel",
        "unknown channel 'telemetry'",
        "device 'someone-else' in the payload differs from 'd6'",
        "exceeds the limit of 262144",
        "sensor contains the control character U+000A",
    ]
    valid_readings = 4  # one each in the batches of d2, d3 (the second), d4 and d8
    endpoint = services.endpoint()
    client = make_client(endpoint, "bad-publisher")
    publisher = Publisher(client)
    connect(client, endpoint)
    for topic, payload in messages:
        publisher.publish(topic, payload)
    assert publisher.flush(10)
    store = make_influx(services.influx, database)
    wait_until(lambda: len(inbox.reasons()) >= len(expected_reasons), 20, "dead letters")
    reasons = inbox.reasons()
    for expected in expected_reasons:
        assert any(expected in reason for reason in reasons), (expected, reasons)
    assert len(reasons) == len(expected_reasons), reasons
    wait_until(lambda: count_points(store) >= valid_readings, 20, "the valid readings")
    assert count_points(store) == valid_readings
    # The worker survived all of it and still stores new readings.
    assert worker.proc is not None and worker.proc.poll() is None
    reading = Reading("air_temperature", SensorKind.AIR_TEMPERATURE, NOW_MS, 1.0)
    publisher.publish(f"{base}/d9/up", encode_batch("d9", 0, NOW_MS, [reading]))
    wait_until(lambda: count_points(store) == valid_readings + 1, 20, "a reading after bad input")
    metrics = worker.metrics()
    dead = "shinshu_ingest_readings_dead_lettered_total"
    # Five broken messages or topics; the oversized one has a label of its own.
    assert metrics[f'{dead}{{reason="invalid_message"}}'] == 5
    assert metrics[f'{dead}{{reason="oversized"}}'] == 1
    assert metrics[f'{dead}{{reason="invalid_reading"}}'] == 5
    assert metrics[f'{dead}{{reason="failed"}}'] == 0
    # The letters of a known tenant go to that tenant's topic.
    assert {topic for topic, _ in inbox.records} == {"shinshu/deadletter/t-bad"}
    client.disconnect()
    inbox.close()


def test_tag_values_round_trip_exactly(
    services: Services, database: str, ingest_factory: IngestFactory
) -> None:
    """Spaces, commas, '=', quotes, backslashes and Japanese text come back exactly as sent."""
    ingest_factory(services, database)
    topic = DeviceTopic('市 a,b=c "q"', "川上村 第2圃場 'x'", "dev\\1 =,").validate()
    sensors = ['probe, 10 cm="a"', "back\\slash\\\\double", "レタス畑 北"]
    readings = [
        Reading(sensor, SensorKind.SOIL_MOISTURE, NOW_MS - 1000 * i, 20.0 + i)
        for i, sensor in enumerate(sensors)
    ]
    endpoint = services.endpoint()
    client = make_client(endpoint, "tag-publisher")
    publisher = Publisher(client)
    connect(client, endpoint)
    publisher.publish(topic.topic(Channel.UP), encode_batch(topic.device, 0, NOW_MS, readings))
    assert publisher.flush(10)
    store = make_influx(services.influx, database)
    wait_until(lambda: count_points(store) == 3, 20, "3 points")
    results = store.query('SELECT "value" FROM "soil_moisture" GROUP BY *')
    stored = {
        (s["tags"]["tenant"], s["tags"]["site"], s["tags"]["device"], s["tags"]["sensor"]): [
            tuple(v) for v in s["values"]
        ]
        for s in results[0]["series"]
    }
    assert stored == {
        (topic.tenant, topic.site, topic.device, r.sensor): [(r.ts_ms, r.value)] for r in readings
    }
    client.disconnect()
    client.loop_stop()


def test_two_workers_in_a_group_share_the_load(
    services: Services, database: str, ingest_factory: IngestFactory
) -> None:
    """Two workers in one `$share` group each store part, together exactly what was sent."""
    group = f"g{time.monotonic_ns()}"
    workers = [
        ingest_factory(services, database, ingest_group=group, ingest_client_id=f"{group}-{i}")
        for i in range(2)
    ]
    run_simulate(services, database, "--devices", "5", "--readings", "2000", "--batch-size", "50")
    store = make_influx(services.influx, database)
    wait_until(lambda: count_points(store) >= 10_000, 60, "10,000 points")
    time.sleep(1)
    assert count_points(store) == 10_000
    shares = [w.metrics()["shinshu_ingest_readings_stored_total"] for w in workers]
    assert sum(shares) == 10_000
    assert all(share >= 1_000 for share in shares), shares
