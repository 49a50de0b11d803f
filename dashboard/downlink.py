"""Configuration down to devices: validated here, published retained with the API's own account.

The broker lets only this account publish `.../config`; a device or a stranger cannot. Each
publication is a short session of its own, so that several API instances can share one account.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass

from dashboard.errors import DashboardError, InvalidInputError, UnavailableError
from edge.config import ConfigError, RemoteConfig, parse_remote
from edge.mqtt import MqttEndpoint, MqttError, Publisher, close_client, connect, make_client
from edge.protocol import Channel, DeviceTopic


class InvalidConfigError(DashboardError, InvalidInputError):
    """A configuration a device would refuse (HTTP 422)."""

    def __init__(self, message: str, field: str = "sensors") -> None:
        """`field` names the input at fault (the sensor list by default)."""
        super().__init__(message, field)


class DownlinkError(DashboardError, UnavailableError):
    """The broker did not take the configuration (HTTP 503)."""


@dataclass(frozen=True, slots=True)
class Published:
    """A configuration now retained on the device's config topic."""

    topic: str
    config: RemoteConfig


def validate_config(document: object) -> tuple[bytes, RemoteConfig]:
    """The payload of a remote configuration and its parsed form, or InvalidConfigError."""
    payload = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    try:
        return payload, parse_remote(payload, None)
    except ConfigError as exc:
        raise InvalidConfigError(str(exc)) from exc


class ConfigPublisher:
    """Publishes retained configuration as the API's broker account."""

    def __init__(self, endpoint: Callable[[], MqttEndpoint], *, timeout_s: float = 10.0) -> None:
        """`endpoint()` gives the broker with the API's account (read when publishing)."""
        self._endpoint = endpoint
        self._timeout = timeout_s
        self._lock = threading.Lock()

    def publish(self, tenant: str, site: str, device: str, document: object) -> Published:
        """Validate `document` and retain it on the device's config topic (QoS 1)."""
        payload, config = validate_config(document)
        topic = DeviceTopic(tenant, site, device).validate().topic(Channel.CONFIG)
        with self._lock:
            try:
                endpoint = self._endpoint()
                assert endpoint.username is not None
                client = make_client(endpoint, endpoint.username)
                publisher = Publisher(client, window=1)
                connect(client, endpoint, timeout=self._timeout)
            except MqttError as exc:
                raise DownlinkError(f"the MQTT broker is not reachable: {exc}") from exc
            try:
                publisher.publish(topic, payload, retain=True)
                if not publisher.flush(self._timeout):
                    raise DownlinkError("the MQTT broker did not confirm the configuration")
                refused = publisher.refused
                if refused:
                    raise DownlinkError(f"the MQTT broker refused the configuration: {refused[0]}")
            except MqttError as exc:
                raise DownlinkError(f"publishing the configuration failed: {exc}") from exc
            finally:
                close_client(client, timeout=1.0)
        return Published(topic, config)
