"""The one module that wraps paho-mqtt: broker URLs, clients, bounded QoS 1 publishing."""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger(__name__)

# paho numbers messages with 16 bits; a larger window would reuse ids still in flight.
MAX_WINDOW = 65_000


class MqttError(RuntimeError):
    """The broker could not be reached or refused what was asked."""


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    """Where the broker is and how to log in; `mqtts://` means TLS."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str) -> MqttEndpoint:
        """Parse `mqtt://user:pass@host:port` or `mqtts://...`."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise MqttError(f"broker URL must start with mqtt:// or mqtts://, got {parts.scheme!r}")
        if not parts.hostname:
            raise MqttError("broker URL has no host")
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def __str__(self) -> str:
        """The URL without the password, safe for logs."""
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def make_client(
    endpoint: MqttEndpoint,
    client_id: str,
    *,
    manual_ack: bool = False,
    max_inflight: int = 20,
) -> paho.Client:
    """Build an MQTT 5 client for `endpoint` (not yet connected)."""
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv5,
        manual_ack=manual_ack,
    )
    if endpoint.username:
        client.username_pw_set(endpoint.username, endpoint.password)
    if endpoint.tls:
        client.tls_set_context(ssl.create_default_context())
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
    try:
        client.connect(
            endpoint.host,
            endpoint.port,
            keepalive=keepalive,
            clean_start=clean_start,
            properties=properties,
        )
    except OSError as exc:
        raise MqttError(f"cannot reach the broker at {endpoint}: {exc}") from exc
    client.loop_start()
    if not connected.wait(timeout):
        client.loop_stop()
        raise MqttError(f"the broker at {endpoint} did not answer within {timeout:.0f} s")
    if refused:
        client.loop_stop()
        raise MqttError(f"the broker at {endpoint} refused the connection: {refused[0]}")


AckCallback = Callable[[], None]


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
        # PUBACKs that arrived before publish() returned the message id.
        self._early: set[int] = set()
        self._closed = False
        client.max_inflight_messages_set(window)
        client.on_publish = self._on_publish

    def _on_publish(
        self, _c: paho.Client, _u: object, mid: int, _reason: ReasonCode, _props: object
    ) -> None:
        with self._cond:
            if mid in self._pending:
                callback = self._pending.pop(mid)
                self._cond.notify_all()
            else:
                self._early.add(mid)
                return
        if callback is not None:
            callback()

    @property
    def in_flight(self) -> int:
        """Messages published and not yet acknowledged by the broker."""
        with self._cond:
            return len(self._pending)

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
            if info.mid in self._early:
                self._early.discard(info.mid)
                acked = True
            else:
                self._pending[info.mid] = on_ack
                acked = False
        if acked and on_ack is not None:
            on_ack()
        return info.mid

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every published message is acknowledged; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending:
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

    def on_message(_c: paho.Client, _u: object, message: paho.MQTTMessage) -> None:
        """Hand the topic and payload on."""
        handler(message.topic, message.payload)

    client.on_message = on_message
    client.subscribe(topic, qos=1)


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
