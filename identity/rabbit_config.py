"""The RabbitMQ configuration of a clustered broker, rendered for a server or for the tests.

`deploy/rabbitmq/rabbitmq.conf` is `render(DEBIAN_RABBIT)`; the cluster tests run `render()`
with their own ports, so what is tested is what is shipped (a test compares them).
"""

from __future__ import annotations

from dataclasses import dataclass

# The MQTT listener, accounts from the platform over HTTP, and nothing else.
PLUGINS = ("rabbitmq_mqtt", "rabbitmq_auth_backend_http")


@dataclass(frozen=True, slots=True)
class RabbitLayout:
    """Ports and the authentication service of one node."""

    amqp_host: str
    amqp_port: int
    mqtt_host: str
    mqtt_port: int
    # Where `shinshu broker auth-http` answers (its base URL, ending in /auth).
    auth_url: str


DEBIAN_RABBIT = RabbitLayout(
    amqp_host="0.0.0.0",
    amqp_port=5672,
    mqtt_host="0.0.0.0",
    mqtt_port=1883,
    auth_url="http://127.0.0.1:8089/auth",
)


def enabled_plugins() -> str:
    """The enabled_plugins file (an Erlang term)."""
    return f"[{','.join(PLUGINS)}].\n"


def render(layout: RabbitLayout) -> str:
    """The whole rabbitmq.conf of one node for `layout`."""
    return f"""\
# Shinshu IoT platform: one node of a RabbitMQ cluster (/etc/rabbitmq/rabbitmq.conf).
# Made by `shinshu broker rabbit-config`; the platform's cluster tests run this configuration.

# AMQP 0-9-1 for the ingest workers (they consume the quorum queue shinshu.ingest).
listeners.tcp.default = {layout.amqp_host}:{layout.amqp_port}

# MQTT 3.1.1 for devices and MQTT services: every publish goes to amq.topic with the topic as
# its routing key ('/' becomes '.'); a QoS 1 PUBACK is sent once the queues have the message.
mqtt.listeners.tcp.default = {layout.mqtt_host}:{layout.mqtt_port}
mqtt.allow_anonymous = false
mqtt.vhost = /
mqtt.exchange = amq.topic

# Every login and every queue, exchange and topic check is asked of the platform's registry
# (`shinshu broker auth-http`): a device may publish only its own .../up and .../status and
# read only its own .../config and .../ack; nothing else is allowed.
auth_backends.1 = http
auth_http.http_method = post
auth_http.user_path = {layout.auth_url}/user
auth_http.vhost_path = {layout.auth_url}/vhost
auth_http.resource_path = {layout.auth_url}/resource
auth_http.topic_path = {layout.auth_url}/topic

# A minority of nodes down pauses nothing the majority holds (quorum queues need a majority);
# a node cut off from the majority stops serving rather than diverge.
cluster_partition_handling = pause_minority

log.console = false
log.file.level = warning
"""
