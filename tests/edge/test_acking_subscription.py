"""The acking subscription on a real broker: only acknowledged messages leave the session."""

from __future__ import annotations

import queue
import uuid
from pathlib import Path

import pytest
from support import Services

from edge.mqtt import (
    AckingSubscription,
    MqttEndpoint,
    Publisher,
    acking_subscription,
    close_client,
    connect,
    make_client,
)
from identity.accounts import ServiceRole

pytestmark = pytest.mark.integration

Received = tuple[str, bytes, int, int]


def _subscriber(
    endpoint: MqttEndpoint, client_id: str, topic_filter: str
) -> tuple[AckingSubscription, queue.SimpleQueue[Received]]:
    """A started subscription whose messages land in the returned queue, unacknowledged."""
    inbox: queue.SimpleQueue[Received] = queue.SimpleQueue()
    subscription = acking_subscription(
        endpoint,
        client_id,
        topic_filter=topic_filter,
        receive_maximum=10,
        session_expiry_s=300,
        on_message=lambda *message: inbox.put(message),
    )
    subscription.start()
    assert subscription.subscribed.wait(10)
    return subscription, inbox


def _publish(services: Services, topic: str, payloads: list[bytes]) -> None:
    """Publish `payloads` at QoS 1 and wait for every PUBACK."""
    client = make_client(services.endpoint(), f"pub-{uuid.uuid4().hex[:8]}")
    publisher = Publisher(client)
    connect(client, services.endpoint())
    try:
        for payload in payloads:
            publisher.publish(topic, payload)
        assert publisher.flush(10)
    finally:
        close_client(client)


def _take(inbox: queue.SimpleQueue[Received], n: int) -> list[Received]:
    return [inbox.get(timeout=10) for _ in range(n)]


def test_unacknowledged_messages_come_back_to_the_same_session(services: Services) -> None:
    """QoS 1 with ids; what was not acknowledged before a disconnect is delivered again."""
    topic = f"shinshu/v1/acking-{uuid.uuid4().hex[:8]}/s/d/up"
    client_id = f"acking-{uuid.uuid4().hex[:8]}"
    subscription, inbox = _subscriber(services.endpoint(), client_id, topic)
    _publish(services, topic, [b"1", b"2", b"3"])
    received = _take(inbox, 3)
    assert [(t, p, qos) for t, p, _mid, qos in received] == [
        (topic, b"1", 1),
        (topic, b"2", 1),
        (topic, b"3", 1),
    ]
    for _topic, _payload, mid, qos in received[:2]:
        subscription.ack(mid, qos)
    subscription.stop()
    again, inbox = _subscriber(services.endpoint(), client_id, topic)
    try:
        ((_t, payload, mid, qos),) = _take(inbox, 1)
        assert payload == b"3"
        again.ack(mid, qos)
        assert inbox.empty()
    finally:
        again.stop()


def _ingest_account(services: Services, tmp_path: Path) -> tuple[MqttEndpoint, str]:
    """The endpoint of a new ingest service account (shared groups are its grant), its id."""
    username = f"member-{uuid.uuid4().hex[:8]}"
    secret = services.service_account(ServiceRole.INGEST, username, tmp_path)
    endpoint = services.endpoint().with_login(username, secret.read_text().strip())
    return endpoint, username


def test_a_shared_subscription_splits_the_stream_between_its_members(
    services: Services, tmp_path: Path
) -> None:
    """Two members of one `$share` group together receive each message exactly once."""
    topic = f"shinshu/v1/shared-{uuid.uuid4().hex[:8]}/s/d/up"
    group = f"$share/g{uuid.uuid4().hex[:6]}/{topic}"
    members = [_subscriber(*_ingest_account(services, tmp_path), group) for _ in range(2)]
    try:
        payloads = [str(i).encode() for i in range(20)]
        _publish(services, topic, payloads)
        seen: list[bytes] = []
        for subscription, inbox in members:
            while True:
                try:
                    _t, payload, mid, qos = inbox.get(timeout=2)
                except queue.Empty:
                    break
                subscription.ack(mid, qos)
                seen.append(payload)
        assert sorted(seen) == sorted(payloads)
    finally:
        for subscription, _inbox in members:
            subscription.stop()
