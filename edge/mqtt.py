"""The one module that wraps paho-mqtt: broker URLs, clients, bounded QoS 1 publishing and the
acking subscription of the server's consumers."""

from __future__ import annotations

import collections
import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge.errors import EdgeError

log = logging.getLogger(__name__)

# paho numbers messages with 16 bits; a larger window would reuse ids still in flight.
MAX_WINDOW = 65_000


class MqttError(EdgeError, RuntimeError):
    """The broker could not be reached or refused what was asked."""


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    """Where the broker is and how to log in; `mqtts://` means TLS, verified against `ca_file`."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    # The private CA that signed the broker's certificate (None: the system's trust store).
    ca_file: Path | None = None
    # A client certificate and its key, for brokers that ask for one.
    cert_file: Path | None = None
    key_file: Path | None = None

    @classmethod
    def from_url(cls, url: str) -> MqttEndpoint:
        """Parse `mqtt://user:pass@host:port` or `mqtts://...`."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise MqttError(f"broker URL must start with mqtt:// or mqtts://, got {parts.scheme!r}")
        if not parts.hostname:
            raise MqttError("broker URL has no host")
        tls = parts.scheme == "mqtts"
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError as exc:
            raise MqttError(f"broker URL has an invalid port: {exc}") from exc
        return cls(
            host=parts.hostname,
            port=port,
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def with_login(self, username: str | None, password: str | None) -> MqttEndpoint:
        """This endpoint with another account (None keeps what the URL gave)."""
        return replace(
            self,
            username=username if username is not None else self.username,
            password=password if password is not None else self.password,
        )

    def with_tls_files(
        self, ca_file: Path | None, cert_file: Path | None = None, key_file: Path | None = None
    ) -> MqttEndpoint:
        """This endpoint trusting `ca_file` and presenting a client certificate, if given."""
        if (cert_file is None) != (key_file is None):
            raise MqttError("a client certificate needs its key, and a key its certificate")
        return replace(self, ca_file=ca_file, cert_file=cert_file, key_file=key_file)

    def tls_context(self) -> ssl.SSLContext:
        """The TLS context of this endpoint: the broker's name and chain are always checked."""
        try:
            context = ssl.create_default_context(
                cafile=str(self.ca_file) if self.ca_file is not None else None
            )
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            if self.cert_file is not None and self.key_file is not None:
                context.load_cert_chain(str(self.cert_file), str(self.key_file))
        except (OSError, ssl.SSLError) as exc:
            raise MqttError(f"cannot set up TLS for {self}: {exc}") from exc
        return context

    def __str__(self) -> str:
        """The URL without the password, safe for logs."""
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


# The versions a client may speak, by the names the settings use.
_PROTOCOLS = {"5": MQTTProtocolVersion.MQTTv5, "3.1.1": MQTTProtocolVersion.MQTTv311}


def make_client(
    endpoint: MqttEndpoint,
    client_id: str,
    *,
    manual_ack: bool = False,
    max_inflight: int = 20,
    protocol: str = "5",
) -> paho.Client:
    """Build an MQTT 5 (or, for brokers without it, 3.1.1) client for `endpoint`."""
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=_PROTOCOLS[protocol],
        manual_ack=manual_ack,
    )
    if endpoint.username:
        client.username_pw_set(endpoint.username, endpoint.password)
    if endpoint.tls:
        client.tls_set_context(endpoint.tls_context())
    client.max_inflight_messages_set(max_inflight)
    # Unbounded here; callers bound what they queue themselves.
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(min_delay=1, max_delay=60)
    return client


def connect_properties(
    *, session_expiry_s: int | None = None, receive_maximum: int | None = None
) -> Properties:
    """CONNECT properties for a persistent session and a bounded number of pushed messages."""
    props = Properties(PacketTypes.CONNECT)
    if session_expiry_s is not None:
        props.SessionExpiryInterval = session_expiry_s
    if receive_maximum is not None:
        props.ReceiveMaximum = receive_maximum
    return props


def connect(
    client: paho.Client,
    endpoint: MqttEndpoint,
    *,
    clean_start: bool = True,
    properties: Properties | None = None,
    keepalive: int = 30,
    timeout: float = 30.0,
) -> None:
    """Connect, start paho's network thread and wait until the broker accepted the session."""
    connected = threading.Event()
    refused: list[str] = []

    def on_connect(
        _client: paho.Client, _userdata: object, _flags: object, reason: ReasonCode, _props: object
    ) -> None:
        if reason.is_failure:
            refused.append(str(reason))
        connected.set()

    client.on_connect = on_connect
    # Clean start and properties exist only in MQTT 5; a 3.1.1 client has a clean session.
    v5 = client.protocol == MQTTProtocolVersion.MQTTv5
    options: dict[str, object] = {}
    if v5:
        options = {"clean_start": clean_start, "properties": properties}
    try:
        client.connect(endpoint.host, endpoint.port, keepalive=keepalive, **options)
    except OSError as exc:
        raise MqttError(f"cannot reach the broker at {endpoint}: {exc}") from exc
    client.loop_start()
    if not connected.wait(timeout):
        client.loop_stop()
        raise MqttError(f"the broker at {endpoint} did not answer within {timeout:.0f} s")
    if refused:
        client.loop_stop()
        raise MqttError(f"the broker at {endpoint} refused the connection: {refused[0]}")


# Called with `heard`: False when the broker took the message but no subscription matched it
# (MQTT 5 PUBACK reason "No matching subscribers"), so nobody has it.
AckCallback = Callable[[bool], None]
# PUBACK reason code 16: accepted, but no subscriber matched.
_NO_MATCHING_SUBSCRIBERS = 16


class Publisher:
    """QoS 1 publishing with at most `window` messages awaiting their PUBACK."""

    def __init__(self, client: paho.Client, window: int = 100) -> None:
        """Take over `client`'s on_publish (call before connecting); `window` bounds unacked."""
        if not 1 <= window <= MAX_WINDOW:
            raise ValueError(f"window must be within 1..{MAX_WINDOW}")
        self._client = client
        self._window = window
        self._cond = threading.Condition()
        self._pending: dict[int, AckCallback | None] = {}
        # PUBACKs that arrived before publish() returned the message id, with any refusal.
        self._early: dict[int, tuple[str | None, bool]] = {}
        # Acknowledged messages whose callback is still running: they count as in flight, so
        # that whoever sees nothing in flight also sees what every callback did.
        self._reporting = 0
        self._closed = False
        # The broker's reasons for messages it refused (MQTT 5 PUBACK reason codes >= 0x80,
        # e.g. "Not authorized"): such a message is not acknowledged, so its callback never runs.
        self.refused: collections.deque[str] = collections.deque(maxlen=100)
        self.refused_count = 0
        client.max_inflight_messages_set(window)
        client.on_publish = self._on_publish

    def _on_publish(
        self, _c: paho.Client, _u: object, mid: int, reason: ReasonCode, _props: object
    ) -> None:
        refusal = str(reason) if reason.is_failure else None
        heard = reason.value != _NO_MATCHING_SUBSCRIBERS
        with self._cond:
            if mid not in self._pending:
                self._early[mid] = (refusal, heard)
                return
            callback = self._pending.pop(mid)
            if refusal is not None:
                self._refuse(refusal)
            if callback is None or refusal is not None:
                self._cond.notify_all()
                return
            self._reporting += 1
        self._report(callback, heard)

    def _report(self, callback: AckCallback, heard: bool) -> None:
        """Run an acknowledged message's callback; only then is it no longer in flight."""
        try:
            callback(heard)
        finally:
            with self._cond:
                self._reporting -= 1
                self._cond.notify_all()

    def _refuse(self, reason: str) -> None:
        """Note a refusal (the caller holds the lock)."""
        self.refused.append(reason)
        self.refused_count += 1
        log.warning("the broker refused a message: %s", reason)

    @property
    def in_flight(self) -> int:
        """Messages published and not yet acknowledged by the broker."""
        with self._cond:
            return len(self._pending) + self._reporting

    def publish(
        self, topic: str, payload: bytes, on_ack: AckCallback | None = None, *, retain: bool = False
    ) -> int:
        """Publish at QoS 1 once the window has room; `on_ack` runs when the PUBACK arrives."""
        with self._cond:
            self._cond.wait_for(lambda: self._closed or len(self._pending) < self._window)
            if self._closed:
                raise MqttError("the connection was closed; the message was not sent")
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise MqttError(f"publish to {topic!r} failed: {paho.error_string(info.rc)}")
        with self._cond:
            heard = True
            if info.mid in self._early:
                refusal, heard = self._early.pop(info.mid)
                if refusal is not None:
                    self._refuse(refusal)
                report = on_ack if refusal is None else None
                if report is not None:
                    self._reporting += 1
            else:
                self._pending[info.mid] = on_ack
                report = None
        if report is not None:
            self._report(report, heard)
        return info.mid

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every published message is acknowledged; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending or self._reporting:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self) -> None:
        """Give up on this connection: wake and fail waiting publishers; acks no longer count."""
        with self._cond:
            self._closed = True
            self._pending.clear()
            self._cond.notify_all()


def set_will(client: paho.Client, topic: str, payload: bytes, *, retain: bool = True) -> None:
    """The message the broker publishes (QoS 1) when this client vanishes; call before connect."""
    client.will_set(topic, payload, qos=1, retain=retain)


MessageHandler = Callable[[str, bytes], None]


def subscribe(client: paho.Client, topic: str, handler: MessageHandler) -> None:
    """Subscribe at QoS 1 (once connected); `handler(topic, payload)` runs in paho's thread."""
    subscribe_topics(client, {topic: handler})


def subscribe_topics(
    client: paho.Client, handlers: dict[str, MessageHandler], *, wait_s: float | None = None
) -> list[str]:
    """Subscribe at QoS 1 to each exact topic, each message going to its topic's handler.

    With `wait_s`, waits for the broker's answer and returns the topics it refused (an
    empty list when all were granted); raises MqttError if no answer came in time.
    """
    # SUBACKs may come back before subscribe() returns their id: keep every answer by id.
    answers: dict[int, bool] = {}
    changed = threading.Condition()

    def on_message(_c: paho.Client, _u: object, message: paho.MQTTMessage) -> None:
        """Hand the topic and payload to the handler of that topic."""
        handler = handlers.get(message.topic)
        if handler is not None:
            handler(message.topic, message.payload)

    def on_subscribe(
        _c: paho.Client, _u: object, mid: int, reasons: list[ReasonCode], _p: object
    ) -> None:
        """Record whether the broker granted the subscription `mid`."""
        with changed:
            answers[mid] = not any(reason.is_failure for reason in reasons)
            changed.notify_all()

    client.on_message = on_message
    client.on_subscribe = on_subscribe
    mids = {client.subscribe(topic, qos=1)[1]: topic for topic in handlers}
    if wait_s is None:
        return []
    with changed:
        if not changed.wait_for(lambda: all(mid in answers for mid in mids), wait_s):
            raise MqttError(f"the broker did not answer a subscription within {wait_s:.0f} s")
    return [topic for mid, topic in mids.items() if not answers[mid]]


# Called in paho's thread with each message of an acking subscription: its topic, payload,
# message id and QoS (the last two acknowledge it).
AckedMessageHandler = Callable[[str, bytes, int, int], None]


class AckingSubscription:
    """A persistent QoS 1 subscription whose messages are acknowledged only when the caller says.

    Connects with `clean_start=False`, a session expiry and `ReceiveMaximum`, so the broker
    never holds more than `receive_maximum` unacknowledged messages for it and redelivers them
    after a reconnect; subscribes again after every reconnect. `topic_filter` may be a shared
    subscription (`$share/{group}/...`).
    """

    def __init__(
        self,
        client: paho.Client,
        endpoint: MqttEndpoint,
        *,
        topic_filter: str,
        receive_maximum: int,
        session_expiry_s: int,
        on_message: AckedMessageHandler,
    ) -> None:
        """Use `client` (built with manual_ack=True); `on_message` runs in paho's thread."""
        self._client = client
        self._endpoint = endpoint
        self._filter = topic_filter
        self._receive_maximum = receive_maximum
        self._session_expiry_s = session_expiry_s
        self._handler = on_message
        # Set once the broker granted the subscription.
        self.subscribed = threading.Event()

    @property
    def topic_filter(self) -> str:
        """What this subscription listens to."""
        return self._filter

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
        # Alone on its subscription, a service need not hear what it publishes itself (ingest's
        # receipts to devices, one per device and write): MQTT 5's No Local. A shared
        # subscription may not ask for it (MQTT 5, 3.8.3.1), so a group's members still do.
        no_local = not self._filter.startswith("$share/")
        self._client.subscribe(self._filter, options=SubscribeOptions(qos=1, noLocal=no_local))

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
        self._handler(message.topic, message.payload, message.mid, message.qos)

    def ack(self, mid: int, qos: int) -> None:
        """Send the PUBACK of message `mid` (nothing to send for QoS 0)."""
        if qos:
            self._client.ack(mid, qos)

    def publish(self, topic: str, payload: bytes) -> paho.MQTTMessageInfo:
        """Publish at QoS 1 on the same connection; the answer tells when the broker has it."""
        return self._client.publish(topic, payload, qos=1)

    def stop(self) -> None:
        """Disconnect; the broker keeps the session and every unacknowledged message."""
        self._client.disconnect()
        self._client.loop_stop()


def acking_subscription(
    endpoint: MqttEndpoint,
    client_id: str,
    *,
    topic_filter: str,
    receive_maximum: int,
    session_expiry_s: int,
    on_message: AckedMessageHandler,
    max_inflight: int = 100,
) -> AckingSubscription:
    """An acking subscription on a new manual-ack client for `endpoint` (not yet started)."""
    client = make_client(endpoint, client_id, manual_ack=True, max_inflight=max_inflight)
    return AckingSubscription(
        client,
        endpoint,
        topic_filter=topic_filter,
        receive_maximum=receive_maximum,
        session_expiry_s=session_expiry_s,
        on_message=on_message,
    )


def on_connection_lost(client: paho.Client, callback: Callable[[str], None]) -> None:
    """Call `callback(reason)` from paho's thread when an established connection drops."""

    def on_disconnect(
        _c: paho.Client, _u: object, _flags: object, reason: ReasonCode, _props: object
    ) -> None:
        """Report why the connection ended."""
        callback(str(reason))

    client.on_disconnect = on_disconnect


def close_client(client: paho.Client, timeout: float = 5.0) -> None:
    """Disconnect cleanly if connected (no last will), and stop paho's network thread."""
    info = client.disconnect()
    if info == MQTTErrorCode.MQTT_ERR_SUCCESS:
        deadline = time.monotonic() + timeout
        while client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.01)
    client.loop_stop()
