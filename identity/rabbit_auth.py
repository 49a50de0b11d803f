"""RabbitMQ's HTTP authentication backend, decided from the registry and the broker rules.

RabbitMQ asks four questions (`auth_http.user_path`, `vhost_path`, `resource_path`,
`topic_path`), each a form of named parameters, and takes `allow` or `deny` for an answer.
Logging in checks the account's secret; what it may publish and subscribe to are the same
grants Mosquitto receives (`identity.grants`), asked through the topic question with the
MQTT topic written as an AMQP routing key (`/` as `.`, `+` as `*`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from core.routing import TOPIC_EXCHANGE, routing_key_topic
from identity.accounts import Account, AccountKind, ServiceRole
from identity.grants import Action, allows
from identity.registry import Registry

log = logging.getLogger(__name__)

ALLOW = "allow"
DENY = "deny"
# The quorum queue the ingest workers share, and any other one of theirs (`shinshu.ingest.x`).
INGEST_QUEUE = "shinshu.ingest"
# The MQTT plugin's queue for a client's subscriptions: this prefix, the client id, the QoS.
_MQTT_QUEUE_PREFIX = "mqtt-subscription-"
_MQTT_QUEUE_SUFFIXES = ("qos0", "qos1")


@dataclass(frozen=True, slots=True)
class RabbitAuth:
    """Answers RabbitMQ's four questions for the accounts of `registry` on one virtual host."""

    registry: Registry
    vhost: str = "/"

    def _active(self, username: str) -> Account | None:
        account = self.registry.get(username) if username else None
        return account if account is not None and account.active else None

    def user(self, params: Mapping[str, str]) -> str:
        """Log in: an active account whose secret matches (and, from MQTT, its own client id)."""
        username = params.get("username", "")
        password = params.get("password", "")
        stored = self.registry.secret_hash(username) if username and password else None
        account = self._active(username)
        if stored is None or account is None or not stored.matches(password):
            log.info("refused login of %r", username)
            return DENY
        client_id = params.get("client_id")
        if client_id is not None and client_id != account.client_id:
            log.info("refused %s with client id %r", username, client_id)
            return DENY
        return ALLOW

    def vhost_access(self, params: Mapping[str, str]) -> str:
        """Entry to the platform's virtual host, for active accounts only."""
        account = self._active(params.get("username", ""))
        return ALLOW if account is not None and params.get("vhost") == self.vhost else DENY

    def resource(self, params: Mapping[str, str]) -> str:
        """Queues and exchanges: an account's own subscription queues and the topic exchange."""
        account = self._active(params.get("username", ""))
        if account is None or params.get("vhost") != self.vhost:
            return DENY
        kind = params.get("resource")
        name = params.get("name", "")
        permission = params.get("permission")
        if kind == "exchange":
            # Publishing and binding; the topic question decides which routing keys.
            return ALLOW if name == TOPIC_EXCHANGE and permission in ("read", "write") else DENY
        if kind == "queue" and permission in ("configure", "write", "read"):
            return ALLOW if _own_queue(account, name) else DENY
        return DENY

    def topic(self, params: Mapping[str, str]) -> str:
        """A routing key on the topic exchange: the account's grants for that MQTT topic."""
        account = self._active(params.get("username", ""))
        if (
            account is None
            or params.get("vhost") != self.vhost
            or params.get("name") != TOPIC_EXCHANGE
        ):
            return DENY
        action = {"write": Action.PUBLISH, "read": Action.SUBSCRIBE}.get(
            params.get("permission", "")
        )
        topic = routing_key_topic(params.get("routing_key", ""))
        if action is None or not allows(account, action, topic):
            log.info("refused %s %s on %s", account.username, params.get("permission"), topic)
            return DENY
        return ALLOW

    def answer(self, question: str, params: Mapping[str, str]) -> str:
        """The answer to `question` (user, vhost, resource or topic); anything else is denied."""
        handlers = {
            "user": self.user,
            "vhost": self.vhost_access,
            "resource": self.resource,
            "topic": self.topic,
        }
        handler = handlers.get(question)
        return handler(params) if handler is not None else DENY


def _own_queue(account: Account, name: str) -> bool:
    """Whether queue `name` belongs to `account`: its MQTT subscriptions, or ingest's queue."""
    if name in (f"{_MQTT_QUEUE_PREFIX}{account.client_id}{s}" for s in _MQTT_QUEUE_SUFFIXES):
        return True
    return (
        account.kind is AccountKind.SERVICE
        and account.role is ServiceRole.INGEST
        and (name == INGEST_QUEUE or name.startswith(f"{INGEST_QUEUE}."))
    )
