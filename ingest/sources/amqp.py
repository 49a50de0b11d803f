"""AMQP 0-9-1 source: competing consumers of a replicated quorum queue on a RabbitMQ cluster.

Devices publish MQTT to any node; the MQTT plugin routes every message to `amq.topic` with
the topic as routing key ('/' as '.'), and the quorum queue bound there holds it on a
majority of nodes before the device gets its PUBACK. Workers take messages with a bounded
prefetch and acknowledge each only when the worker acknowledges it, after the store took it.
A lost node (or connection) is survived by connecting to the next node: what was delivered
and not acknowledged is delivered again, and the store's writes are idempotent.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import count
from urllib.parse import unquote

import pika
import pika.exceptions

from core.routing import TOPIC_EXCHANGE, routing_key_topic, topic_routing_key
from edge.protocol import TOPIC_ROOT
from ingest.sources.mqtt import Delivery, InMessage

log = logging.getLogger(__name__)

# Every device message; the MQTT plugin writes topic levels as '.'-separated words.
BINDING_KEY = f"{topic_routing_key(TOPIC_ROOT)}.#"
_RECONNECT_MAX_S = 5.0
_POLL_S = 0.2
_CONNECTION_ERRORS = (
    pika.exceptions.AMQPError,
    OSError,
)


@dataclass(frozen=True, slots=True)
class AmqpNodes:
    """The cluster's nodes and the account to log in with (its secret never in a URL)."""

    hosts: tuple[tuple[str, int], ...]
    username: str
    password: str = field(repr=False)
    vhost: str = "/"

    def __str__(self) -> str:
        """The nodes without the secret, safe for logs."""
        nodes = ",".join(f"{host}:{port}" for host, port in self.hosts)
        return f"amqp://{self.username}@{nodes}"

    def parameters(self, heartbeat_s: int) -> list[pika.ConnectionParameters]:
        """One connection attempt per node, in order."""
        credentials = pika.PlainCredentials(self.username, self.password)
        return [
            pika.ConnectionParameters(
                host=host,
                port=port,
                virtual_host=self.vhost,
                credentials=credentials,
                heartbeat=heartbeat_s,
                connection_attempts=1,
                socket_timeout=5,
                blocked_connection_timeout=60,
            )
            for host, port in self.hosts
        ]


class _Published:
    """A dead letter or receipt: published once the broker confirmed it."""

    def __init__(self) -> None:
        self._done = threading.Event()

    def confirm(self) -> None:
        """The broker took it."""
        self._done.set()

    def is_published(self) -> bool:
        """Whether the broker confirmed it."""
        return self._done.is_set()


class AmqpSource:
    """Consumes the quorum queue `queue_name` through one connection, in its own thread."""

    def __init__(
        self,
        nodes: AmqpNodes,
        *,
        queue_name: str,
        prefetch: int,
        heartbeat_s: int = 30,
    ) -> None:
        """Declare (if needed), bind and consume `queue_name` once started."""
        self.nodes = nodes
        self._nodes = nodes
        self._queue_name = queue_name
        self._prefetch = prefetch
        self._heartbeat_s = heartbeat_s
        self.subscribed = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._queue: queue.SimpleQueue[InMessage] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._connection: pika.BlockingConnection | None = None
        self._channel: pika.adapters.blocking_connection.BlockingChannel | None = None
        # A delivery tag means something only on the channel that delivered it: each message
        # gets its own id, mapped to (channel generation, tag).
        self._generation = 0
        self._tags: dict[int, tuple[int, int]] = {}
        self._ids = count(1)
        self._received = 0
        self._acked = 0

    def start(self) -> None:
        """Connect (to the first node that answers) and consume, in a background thread."""
        self._thread = threading.Thread(target=self._run, name="amqp-source", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                self._consume()
                delay = 0.5
            except _CONNECTION_ERRORS as exc:
                log.warning("AMQP %s: %s; reconnecting", self._nodes, exc or type(exc).__name__)
            finally:
                self._lost()
            if not self._stop.wait(delay):
                delay = min(delay * 2, _RECONNECT_MAX_S)

    def _consume(self) -> None:
        """One connection's life: declare, bind, consume until stopped or lost."""
        connection = pika.BlockingConnection(self._nodes.parameters(self._heartbeat_s))
        channel = connection.channel()
        channel.confirm_delivery()
        # Replicated on a majority of nodes; a node may go without losing a message.
        channel.queue_declare(self._queue_name, durable=True, arguments={"x-queue-type": "quorum"})
        channel.queue_bind(self._queue_name, TOPIC_EXCHANGE, routing_key=BINDING_KEY)
        channel.basic_qos(prefetch_count=self._prefetch)
        with self._lock:
            self._generation += 1
            generation = self._generation
            self._connection, self._channel = connection, channel
        channel.basic_consume(
            self._queue_name,
            lambda _ch, method, _props, body: self._on_message(generation, method, body),
            auto_ack=False,
        )
        self.subscribed.set()
        log.info("consuming %s on %s", self._queue_name, connection._impl.params.host)
        try:
            while not self._stop.is_set():
                connection.process_data_events(time_limit=_POLL_S)
        finally:
            if self._stop.is_set() and connection.is_open:
                connection.close()

    def _lost(self) -> None:
        """Forget the connection: its unacknowledged messages go back to the queue."""
        self.subscribed.clear()
        with self._lock:
            self._connection = self._channel = None
            self._generation += 1
            self._tags.clear()

    def _on_message(self, generation: int, method: pika.spec.Basic.Deliver, body: bytes) -> None:
        mid = next(self._ids)
        with self._lock:
            self._tags[mid] = (generation, method.delivery_tag)
            self._received += 1
        topic = routing_key_topic(method.routing_key)
        self._queue.put(InMessage(topic, body, mid, 1, time.time()))

    def get(self, timeout: float) -> InMessage | None:
        """The next message, or None after `timeout` seconds."""
        try:
            return self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
        except queue.Empty:
            return None

    def _in_io_thread(self, call: Callable[[pika.BlockingConnection], None]) -> bool:
        """Run `call` in the connection's thread; False when there is no connection."""
        with self._lock:
            connection = self._connection
        if connection is None:
            return False
        try:
            connection.add_callback_threadsafe(lambda: call(connection))
        except _CONNECTION_ERRORS:
            return False
        return True

    def ack(self, message: InMessage) -> None:
        """Acknowledge `message`; on a channel since lost it comes back and is stored again."""
        with self._lock:
            tagged = self._tags.pop(message.mid, None)
            self._acked += 1
        if tagged is None:
            return
        generation, tag = tagged

        def send(_connection: pika.BlockingConnection) -> None:
            """Acknowledge on the channel that delivered it, if that one is still open."""
            with self._lock:
                channel = self._channel if self._generation == generation else None
            if channel is not None and channel.is_open:
                channel.basic_ack(tag)

        self._in_io_thread(send)

    @property
    def outstanding(self) -> int:
        """Messages received and not yet acknowledged (queued or in the pending batch)."""
        with self._lock:
            return self._received - self._acked

    def publish(self, topic: str, payload: bytes) -> Delivery:
        """Publish to `topic` on the topic exchange, confirmed by the broker."""
        delivery = _Published()

        def send(_connection: pika.BlockingConnection) -> None:
            """Publish and wait for the broker's confirmation (the channel is in confirm mode)."""
            with self._lock:
                channel = self._channel
            if channel is None or not channel.is_open:
                return
            try:
                channel.basic_publish(
                    TOPIC_EXCHANGE,
                    topic_routing_key(topic),
                    payload,
                    pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent),
                )
            except (pika.exceptions.UnroutableError, pika.exceptions.NackError):
                log.warning("broker refused a message to %s", topic)
                return
            delivery.confirm()

        self._in_io_thread(send)
        return delivery

    def stop(self) -> None:
        """Close the connection; the queue keeps every unacknowledged message."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def parse_amqp_hosts(url: str) -> tuple[tuple[tuple[str, int], ...], str]:
    """The nodes and virtual host of `amqp://host[:port][,host[:port]...][/vhost]`."""
    if not url.startswith("amqp://"):
        raise ValueError(f"an AMQP URL starts with amqp://, not {url[:12]!r}")
    rest = url.removeprefix("amqp://")
    if "@" in rest:
        raise ValueError("the AMQP URL must not hold credentials (use the password file)")
    netloc, _, vhost = rest.partition("/")
    hosts: list[tuple[str, int]] = []
    for item in netloc.split(","):
        host, _, port = item.strip().partition(":")
        if not host:
            raise ValueError(f"no host in AMQP URL node {item!r}")
        hosts.append((host, int(port) if port else 5672))
    return tuple(hosts), unquote(vhost) or "/"


def make_amqp_source(
    hosts: Sequence[tuple[str, int]],
    *,
    username: str,
    password: str,
    vhost: str,
    queue_name: str,
    prefetch: int,
) -> AmqpSource:
    """Build the AMQP source for an ingest worker."""
    return AmqpSource(
        AmqpNodes(tuple(hosts), username, password, vhost),
        queue_name=queue_name,
        prefetch=prefetch,
    )
