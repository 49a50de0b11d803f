"""The QoS 1 publisher's bookkeeping, driven through paho's own callback signature."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from edge.mqtt import Publisher


@dataclass
class _Info:
    rc: MQTTErrorCode
    mid: int


class _Client:
    """Stands in for paho's client before it connects: records what is published."""

    def __init__(self) -> None:
        self.on_publish: object = None
        self.mids = 0

    def max_inflight_messages_set(self, _window: int) -> None:
        """Accepted and ignored."""

    def publish(self, _topic: str, _payload: bytes, qos: int, retain: bool) -> _Info:
        """Number the message as paho does."""
        assert qos == 1
        self.mids += 1
        return _Info(MQTTErrorCode.MQTT_ERR_SUCCESS, self.mids)


def _puback(publisher: Publisher, mid: int) -> None:
    """Deliver a successful PUBACK for `mid` as paho's network thread would."""
    publisher._on_publish(None, None, mid, ReasonCode(PacketTypes.PUBACK, "Success"), None)  # type: ignore[arg-type]


def test_a_message_is_in_flight_until_its_callback_has_run() -> None:
    """Whoever sees nothing in flight also sees what the acknowledgement callback recorded."""
    client = _Client()
    publisher = Publisher(client)  # type: ignore[arg-type]
    entered, release = threading.Event(), threading.Event()
    recorded: list[bool] = []

    def on_ack(heard: bool) -> None:
        entered.set()
        release.wait(5)
        recorded.append(heard)

    mid = publisher.publish("t", b"x", on_ack)
    network = threading.Thread(target=_puback, args=(publisher, mid))
    network.start()
    assert entered.wait(5)
    assert publisher.in_flight == 1
    assert not publisher.flush(timeout=0.05)
    release.set()
    network.join(5)
    assert publisher.in_flight == 0
    assert recorded == [True]
    assert publisher.flush(timeout=0.05)


def test_an_early_puback_is_reported_once_and_then_nothing_is_in_flight() -> None:
    """A PUBACK that beats publish() back runs the callback from publish, exactly once."""
    client = _Client()
    publisher = Publisher(client)  # type: ignore[arg-type]
    _puback(publisher, 1)
    recorded: list[bool] = []
    assert publisher.publish("t", b"x", recorded.append) == 1
    assert recorded == [True]
    assert publisher.in_flight == 0
