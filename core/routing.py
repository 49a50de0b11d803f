"""MQTT topics as AMQP routing keys, the way RabbitMQ's MQTT plugin writes them.

The plugin publishes every MQTT message to the topic exchange with the topic as routing key,
swapping '/' and '.' (so a '.' inside an id survives the trip) and writing '+' as '*'.
"""

from __future__ import annotations

# The exchange the MQTT plugin publishes to and binds subscription queues on.
TOPIC_EXCHANGE = "amq.topic"
_TO_TOPIC = str.maketrans({".": "/", "/": ".", "*": "+"})
_TO_KEY = str.maketrans({"/": ".", ".": "/", "+": "*"})


def routing_key_topic(routing_key: str) -> str:
    """The MQTT topic (or filter) a routing key on the topic exchange stands for."""
    return routing_key.translate(_TO_TOPIC)


def topic_routing_key(topic: str) -> str:
    """The routing key the MQTT plugin gives `topic` (the inverse of `routing_key_topic`)."""
    return topic.translate(_TO_KEY)
