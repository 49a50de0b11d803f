"""Readiness of the MQTT broker, as the API reports it on /readyz."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from core.errors import SettingsError
from dashboard.errors import DashboardError, UnavailableError
from edge.mqtt import MqttEndpoint, MqttError, close_client, connect, make_client

log = logging.getLogger(__name__)


class BrokerDownError(DashboardError, UnavailableError):
    """The MQTT broker did not accept a session (HTTP 503 on /readyz)."""


class BrokerProbe:
    """Whether the broker accepts an MQTT session (a real CONNECT, so credentials count).

    Load balancers poll readiness every few seconds; the answer is kept for `ttl_s` so that
    they cost the broker one short session per interval, not one per poll.
    """

    def __init__(
        self,
        endpoint: Callable[[], MqttEndpoint],
        *,
        ttl_s: float = 5.0,
        timeout_s: float = 3.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Probe the broker as `endpoint()`'s account at most every `ttl_s` seconds."""
        self._endpoint = endpoint
        self._ttl = ttl_s
        self._timeout = timeout_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._checked: tuple[float, str | None] | None = None

    def problem(self) -> str | None:
        """None when the broker accepted a session lately, otherwise why it did not."""
        with self._lock:
            now = self._monotonic()
            if self._checked is not None and now - self._checked[0] < self._ttl:
                return self._checked[1]
            problem = self._connect()
            self._checked = (self._monotonic(), problem)
            return problem

    def _connect(self) -> str | None:
        try:
            endpoint = self._endpoint()
            # The account's own client id (the broker allows no other); sessions are short, so
            # instances sharing the account only ever end each other's finished probes.
            client = make_client(endpoint, endpoint.username or "shinshu-api")
            connect(client, endpoint, keepalive=10, timeout=self._timeout)
        except (MqttError, SettingsError) as exc:
            log.warning("broker not ready: %s", exc)
            return str(exc)
        close_client(client, timeout=1.0)
        return None
