"""MQTT source: a persistent QoS 1 session (or `$share` member) with manual acknowledgement."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import paho.mqtt.client as paho
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge.mqtt import MqttEndpoint, connect, connect_properties, make_client
from edge.protocol import TOPIC_ROOT

log = logging.getLogger(__name__)


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
        client: paho.Client,
        endpoint: MqttEndpoint,
        *,
        topic_filter: str,
        receive_maximum: int,
        session_expiry_s: int,
    ) -> None:
        """Use `client` (built with manual_ack=True) to subscribe to `topic_filter`."""
        self._client = client
        self._endpoint = endpoint
        self._filter = topic_filter
        self._receive_maximum = receive_maximum
        self._session_expiry_s = session_expiry_s
        # Unbounded in type only: the broker never has more than receive_maximum unacknowledged.
        self._queue: queue.SimpleQueue[InMessage] = queue.SimpleQueue()
        self.subscribed = threading.Event()
        self._count_lock = threading.Lock()
        self._received = 0
        self._acked = 0

    def start(self) -> None:
        """Connect with a persistent session and subscribe (again after every reconnect)."""
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._client.on_disconnect = self._on_disconnect
        connect(
            self._client,
            self._endpoint,
            clean_start=False,
            properties=connect_properties(
                session_expiry_s=self._session_expiry_s, receive_maximum=self._receive_maximum
            ),
        )
        self._subscribe()
        self._client.on_connect = self._on_reconnect

    def _subscribe(self) -> None:
        self._client.subscribe(self._filter, options=SubscribeOptions(qos=1))

    def _on_reconnect(
        self, _c: paho.Client, _u: object, _flags: object, reason: ReasonCode, _p: object
    ) -> None:
        if not reason.is_failure:
            log.info("reconnected to %s", self._endpoint)
            self._subscribe()

    def _on_disconnect(
        self, _c: paho.Client, _u: object, _flags: object, reason: ReasonCode, _p: object
    ) -> None:
        if reason.is_failure:
            log.warning("lost the broker at %s: %s; reconnecting", self._endpoint, reason)

    def _on_subscribe(
        self, _c: paho.Client, _u: object, _mid: int, reasons: list[ReasonCode], _p: object
    ) -> None:
        if any(reason.is_failure for reason in reasons):
            log.error("the broker refused the subscription to %s: %s", self._filter, reasons)
            return
        log.info("subscribed to %s", self._filter)
        self.subscribed.set()

    def _on_message(self, _c: paho.Client, _u: object, message: paho.MQTTMessage) -> None:
        with self._count_lock:
            self._received += 1
        self._queue.put(
            InMessage(message.topic, message.payload, message.mid, message.qos, time.time())
        )

    def get(self, timeout: float) -> InMessage | None:
        """The next message, or None after `timeout` seconds."""
        try:
            return self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
        except queue.Empty:
            return None

    def ack(self, message: InMessage) -> None:
        """Send the PUBACK for `message`."""
        if message.qos:
            self._client.ack(message.mid, message.qos)
        with self._count_lock:
            self._acked += 1

    @property
    def outstanding(self) -> int:
        """Messages received and not yet acknowledged (queued or in the pending batch)."""
        with self._count_lock:
            return self._received - self._acked

    def publish(self, topic: str, payload: bytes) -> Delivery:
        """Publish at QoS 1."""
        return self._client.publish(topic, payload, qos=1)

    def stop(self) -> None:
        """Disconnect; the broker keeps the session and every unacknowledged message."""
        self._client.disconnect()
        self._client.loop_stop()


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
    client = make_client(endpoint, client_id, manual_ack=True, max_inflight=100)
    return MqttSource(
        client,
        endpoint,
        topic_filter=topic_filter or subscription_filter(group),
        receive_maximum=receive_maximum,
        session_expiry_s=session_expiry_s,
    )
