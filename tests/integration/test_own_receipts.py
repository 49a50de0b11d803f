"""A worker alone on its subscription does not receive the receipts it sends devices."""

from __future__ import annotations

import time

import pytest
from support import IngestFactory, Services, count_points, make_influx, wait_until

from edge.mqtt import Publisher, connect, make_client
from edge.protocol import Channel, DeviceTopic, Reading, SensorKind, encode_batch

pytestmark = pytest.mark.integration

DEVICES = 20


def test_a_lone_worker_hears_no_receipt_of_its_own_but_still_other_downlink(
    services: Services, database: str, ingest_factory: IngestFactory
) -> None:
    """Twenty devices' batches are stored and receipted; none of those receipts comes back to
    the worker (No Local), while a configuration message another client sends still does."""
    worker = ingest_factory(services, database)
    before = worker.metrics()
    endpoint = services.endpoint()
    client = make_client(endpoint, f"receipt-devices-{time.monotonic_ns()}")
    publisher = Publisher(client)
    connect(client, endpoint)
    now_ms = int(time.time() * 1000)
    store = make_influx(services.influx, database)
    for d in range(DEVICES):
        topic = DeviceTopic("t-own", "site", f"d{d}")
        reading = Reading("air", SensorKind.AIR_TEMPERATURE, now_ms, 20.0 + d)
        publisher.publish(topic.topic(Channel.UP), encode_batch(f"d{d}", 0, now_ms, [reading]))
        # One write per message, so one receipt each.
        wait_until(lambda d=d: count_points(store) == d + 1, 20, f"reading {d} stored")
    assert publisher.flush(10)
    receipts = "shinshu_ingest_receipts_sent_total"
    downlink = "shinshu_ingest_downlink_messages_total"
    wait_until(lambda: worker.metrics()[receipts] - before[receipts] >= DEVICES, 20, "the receipts")
    config = DeviceTopic("t-own", "site", "d0").topic(Channel.CONFIG)
    publisher.publish(config, b'{"v": 1}')
    assert publisher.flush(10)
    wait_until(lambda: worker.metrics()[downlink] - before[downlink] >= 1, 20, "the configuration")
    time.sleep(0.5)  # a receipt coming back would be counted by now
    assert worker.metrics()[downlink] - before[downlink] == 1
    client.disconnect()
    client.loop_stop()
