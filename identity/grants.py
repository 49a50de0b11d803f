"""The broker rules, written once: what each account may publish and subscribe to.

Mosquitto receives them as dynamic-security roles (`identity.dynsec`); a broker that asks over
HTTP (RabbitMQ's or EMQX's HTTP authentication backend) gets its answer from `allows`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from edge.protocol import DEAD_LETTER_ROOT, TOPIC_ROOT, Channel, DeviceTopic
from identity.accounts import Account, AccountKind, ServiceRole

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
CONTROL_RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"


class Action(StrEnum):
    """What a client asks the broker to do with a topic."""

    PUBLISH = "publish"
    SUBSCRIBE = "subscribe"


@dataclass(frozen=True, slots=True)
class Grant:
    """Permission to `action` on topics matching `topic` (MQTT wildcards allowed)."""

    action: Action
    topic: str


def _device_grants(account: Account) -> tuple[Grant, ...]:
    assert account.tenant and account.site and account.device
    own = DeviceTopic(account.tenant, account.site, account.device)
    return (
        Grant(Action.PUBLISH, own.topic(Channel.UP)),
        Grant(Action.PUBLISH, own.topic(Channel.STATUS)),
        Grant(Action.SUBSCRIBE, own.topic(Channel.CONFIG)),
        Grant(Action.SUBSCRIBE, own.topic(Channel.ACK)),
    )


_EVERY_DEVICE = f"{TOPIC_ROOT}/+/+/+"
_SERVICE_GRANTS: dict[ServiceRole, tuple[Grant, ...]] = {
    # Reads every device message (alone or in a shared group); writes dead letters and the
    # receipts that let devices forget stored batches, never readings or configuration.
    ServiceRole.INGEST: (
        Grant(Action.SUBSCRIBE, f"{TOPIC_ROOT}/#"),
        Grant(Action.SUBSCRIBE, f"$share/+/{TOPIC_ROOT}/#"),
        Grant(Action.PUBLISH, f"{DEAD_LETTER_ROOT}/#"),
        Grant(Action.PUBLISH, f"{_EVERY_DEVICE}/{Channel.ACK.value}"),
    ),
    # Reads readings only.
    ServiceRole.ALERTS: (Grant(Action.SUBSCRIBE, f"{_EVERY_DEVICE}/{Channel.UP.value}"),),
    # Sends configuration down, nothing else.
    ServiceRole.API: (Grant(Action.PUBLISH, f"{_EVERY_DEVICE}/{Channel.CONFIG.value}"),),
    # Reads everything the devices and ingest publish, for people watching the traffic.
    ServiceRole.MONITOR: (
        Grant(Action.SUBSCRIBE, f"{TOPIC_ROOT}/#"),
        Grant(Action.SUBSCRIBE, f"{DEAD_LETTER_ROOT}/#"),
    ),
    # Administers the broker's accounts, and sees nothing of the devices.
    ServiceRole.CONTROL: (
        Grant(Action.PUBLISH, CONTROL_TOPIC),
        Grant(Action.SUBSCRIBE, CONTROL_RESPONSE_TOPIC),
    ),
}


def grants_for(account: Account) -> tuple[Grant, ...]:
    """Everything `account` may do; nothing else is allowed (the broker's default is deny)."""
    if account.kind is AccountKind.DEVICE:
        return _device_grants(account)
    assert account.role is not None
    return _SERVICE_GRANTS[account.role]


def topic_matches(pattern: str, topic: str) -> bool:
    """Whether `topic` (or a subscription filter) falls under `pattern` (`+` and `#` wildcards).

    A subscription filter with wildcards matches only where the pattern has them too, so a
    grant on one device's topics never admits a subscription to `+` or `#` across devices.
    """
    want = pattern.split("/")
    have = topic.split("/")
    for index, level in enumerate(want):
        if level == "#":
            return index <= len(have) and not (index == len(have) and index == 0)
        if index >= len(have):
            return False
        if level == "+":
            if have[index] == "#":
                return False
            continue
        if level != have[index]:
            return False
    return len(want) == len(have)


def allows(account: Account, action: Action, topic: str) -> bool:
    """Whether an active `account` may `action` on `topic`: the answer an HTTP backend gives."""
    if not account.active:
        return False
    if topic.startswith("$") and not topic.startswith(("$share/", "$CONTROL/")):
        return False
    return any(g.action is action and topic_matches(g.topic, topic) for g in grants_for(account))
