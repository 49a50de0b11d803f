"""MQTT source: a persistent QoS 1 session (or `$share` member) with manual acknowledgement."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from edge.mqtt import MqttEndpoint, acking_subscription
from edge.protocol import TOPIC_ROOT


@dataclass(frozen=True, slots=True)
class InMessage:
    """A message as received: acknowledged to the broker only after it has been dealt with."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    received: float


class Delivery(Protocol):
    """Something published that can be waited for (paho's MQTTMessageInfo)."""

    def is_published(self) -> bool:
        """Whether the broker acknowledged it."""


class MessageSource(Protocol):
    """What the ingest worker needs from a message source."""

    def get(self, timeout: float) -> InMessage | None:
        """The next message, or None after `timeout` seconds."""

    def ack(self, message: InMessage) -> None:
        """Tell the broker the message is dealt with."""

    def publish(self, topic: str, payload: bytes) -> Delivery:
        """Publish at QoS 1 (used for dead letters)."""


def subscription_filter(group: str | None) -> str:
    """Every device topic, through a shared subscription when workers form a group."""
    topic = f"{TOPIC_ROOT}/#"
    return f"$share/{group}/{topic}" if group else topic


class MqttSource:
    """Receives device messages into a queue that the broker bounds by ReceiveMaximum."""

    def __init__(
        self,
        endpoint: MqttEndpoint,
        client_id: str,
        *,
        topic_filter: str,
        receive_maximum: int,
        session_expiry_s: int,
    ) -> None:
        """Subscribe to `topic_filter` with a persistent session of `client_id` (on start)."""
        self._subscription = acking_subscription(
            endpoint,
            client_id,
            topic_filter=topic_filter,
            receive_maximum=receive_maximum,
            session_expiry_s=session_expiry_s,
            on_message=self._on_message,
        )
        self.subscribed = self._subscription.subscribed
        # Unbounded in type only: the broker never has more than receive_maximum unacknowledged.
        self._queue: queue.SimpleQueue[InMessage] = queue.SimpleQueue()
        self._count_lock = threading.Lock()
        self._received = 0
        self._acked = 0

    def start(self) -> None:
        """Connect with a persistent session and subscribe (again after every reconnect)."""
        self._subscription.start()

    def _on_message(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        with self._count_lock:
            self._received += 1
        self._queue.put(InMessage(topic, payload, mid, qos, time.time()))

    def get(self, timeout: float) -> InMessage | None:
        """The next message, or None after `timeout` seconds."""
        try:
            return self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
        except queue.Empty:
            return None

    def ack(self, message: InMessage) -> None:
        """Send the PUBACK for `message`."""
        self._subscription.ack(message.mid, message.qos)
        with self._count_lock:
            self._acked += 1

    @property
    def outstanding(self) -> int:
        """Messages received and not yet acknowledged (queued or in the pending batch)."""
        with self._count_lock:
            return self._received - self._acked

    def publish(self, topic: str, payload: bytes) -> Delivery:
        """Publish at QoS 1."""
        return self._subscription.publish(topic, payload)

    def stop(self) -> None:
        """Disconnect; the broker keeps the session and every unacknowledged message."""
        self._subscription.stop()


def make_source(
    endpoint: MqttEndpoint,
    client_id: str,
    *,
    group: str | None,
    receive_maximum: int,
    session_expiry_s: int,
    topic_filter: str | None = None,
) -> MqttSource:
    """Build the source for an ingest worker (or the alerts service, with its own filter)."""
    return MqttSource(
        endpoint,
        client_id,
        topic_filter=topic_filter or subscription_filter(group),
        receive_maximum=receive_maximum,
        session_expiry_s=session_expiry_s,
    )
