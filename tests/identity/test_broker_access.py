"""The broker itself enforces who may publish, read and connect: real Mosquitto, real ingest."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode
from support import IngestFactory, Services, count_points, make_influx, wait_until

from edge.mqtt import MqttEndpoint
from edge.protocol import Channel, DeviceTopic, Reading, SensorKind, encode_batch
from identity.accounts import Account, ServiceRole
from identity.grants import Action, allows

pytestmark = pytest.mark.integration

NOW_MS = int(time.time() * 1000)


@dataclass
class Probe:
    """A raw MQTT 5 client that records what the broker answered to each request."""

    client: paho.Client
    connack: ReasonCode | None = None
    connected: threading.Event = field(default_factory=threading.Event)
    disconnected: threading.Event = field(default_factory=threading.Event)
    pubacks: dict[int, ReasonCode] = field(default_factory=dict)
    subacks: dict[int, list[ReasonCode]] = field(default_factory=dict)
    answered: threading.Condition = field(default_factory=threading.Condition)

    def publish(self, topic: str, payload: bytes = b"{}", retain: bool = False) -> ReasonCode:
        """Publish at QoS 1 and return the PUBACK's reason code."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        with self.answered:
            assert self.answered.wait_for(lambda: info.mid in self.pubacks, 5), topic
            return self.pubacks[info.mid]

    def subscribe(self, topic: str) -> ReasonCode:
        """Subscribe at QoS 1 and return the SUBACK's reason code."""
        _rc, mid = self.client.subscribe(topic, qos=1)
        with self.answered:
            assert self.answered.wait_for(lambda: mid in self.subacks, 5), topic
            return self.subacks[mid][0]

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()


def probe(endpoint: MqttEndpoint, client_id: str, *, reconnect: bool = False) -> Probe:
    """Connect `client_id` to `endpoint` and wait for the CONNACK (or the refusal)."""
    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )
    if endpoint.username:
        client.username_pw_set(endpoint.username, endpoint.password)
    if endpoint.tls:
        client.tls_set_context(endpoint.tls_context())
    found = Probe(client)

    def on_connect(_c: object, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        found.connack = reason
        found.connected.set()

    def on_disconnect(_c: object, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        found.disconnected.set()

    def on_publish(_c: object, _u: object, mid: int, reason: ReasonCode, _p: object) -> None:
        with found.answered:
            found.pubacks[mid] = reason
            found.answered.notify_all()

    def on_subscribe(
        _c: object, _u: object, mid: int, reasons: list[ReasonCode], _p: object
    ) -> None:
        with found.answered:
            found.subacks[mid] = reasons
            found.answered.notify_all()

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_publish = on_publish
    client.on_subscribe = on_subscribe
    if not reconnect:
        client.reconnect_delay_set(60, 60)
    client.connect(endpoint.host, endpoint.port, keepalive=10)
    client.loop_start()
    assert found.connected.wait(5), "no CONNACK"
    return found


@dataclass
class Fleet:
    """Two devices of one tenant and one of another, registered in the platform's registry."""

    services: Services
    a: Account
    a_secret: str
    b: Account
    other: Account

    def endpoint(self, account: Account, secret: str) -> MqttEndpoint:
        """The plain listener as `account`."""
        return MqttEndpoint.from_url(self.services.broker.url).with_login(account.username, secret)


@pytest.fixture
def fleet(services: Services) -> Iterator[Fleet]:
    """Devices A and B of tenant t-acl, and one of tenant t-other."""
    suffix = time.monotonic_ns()
    issued = services.accounts.issue_devices(
        [
            ("t-acl", "field", f"a{suffix}"),
            ("t-acl", "field", f"b{suffix}"),
            ("t-other", "field", f"c{suffix}"),
        ],
        actor="tests",
    )
    a, b, other = issued.values()
    yield Fleet(services, a.account, a.secret, b.account, other.account)


def topic(account: Account, channel: Channel) -> str:
    """One of `account`'s own topics."""
    assert account.tenant and account.site and account.device
    return DeviceTopic(account.tenant, account.site, account.device).topic(channel)


def batch(device: str) -> bytes:
    """A valid batch of one reading."""
    reading = Reading("air_temperature", SensorKind.AIR_TEMPERATURE, NOW_MS, 1.5)
    return encode_batch(device, 0, NOW_MS, [reading])


def test_anonymous_and_wrong_secrets_are_refused(services: Services, fleet: Fleet) -> None:
    """No account, a wrong secret, or another account's client id: the broker says no."""
    plain = MqttEndpoint.from_url(services.broker.url)
    anonymous = probe(plain, "anonymous-probe").connack
    assert anonymous is not None and anonymous.value in (134, 135)
    wrong = fleet.endpoint(fleet.a, "not-the-secret")
    assert probe(wrong, fleet.a.client_id).connack.is_failure  # type: ignore[union-attr]
    # A's own secret, but B's client id (or ingest's): a session belongs to its account.
    for client_id in (fleet.b.client_id, "shinshu-ingest", "shinshu-api"):
        answer = probe(fleet.endpoint(fleet.a, fleet.a_secret), client_id).connack
        assert answer is not None and answer.is_failure, client_id
    own = probe(fleet.endpoint(fleet.a, fleet.a_secret), fleet.a.client_id)
    assert own.connack is not None and not own.connack.is_failure
    own.close()


def test_a_device_may_only_use_its_own_topics(
    services: Services, database: str, fleet: Fleet, ingest_factory: IngestFactory
) -> None:
    """Device A can publish only its own up and status; forged topics store nothing."""
    ingest_factory(services, database)
    store = make_influx(services.influx, database)
    a = probe(fleet.endpoint(fleet.a, fleet.a_secret), fleet.a.client_id)
    forged = [
        topic(fleet.b, Channel.UP),
        topic(fleet.b, Channel.STATUS),
        topic(fleet.other, Channel.UP),
        topic(fleet.a, Channel.CONFIG),
        topic(fleet.b, Channel.CONFIG),
        "shinshu/deadletter/t-acl",
        f"shinshu/v1/t-acl/field/{fleet.a.device}/ack",
        "$CONTROL/dynamic-security/v1",
    ]
    for target in forged:
        assert a.publish(
            target, batch(target.split("/")[4] if target.count("/") == 5 else "x"), retain=True
        ).is_failure, target
    for target in (
        "shinshu/#",
        "shinshu/v1/#",
        topic(fleet.b, Channel.CONFIG),
        "shinshu/deadletter/#",
        "#",
        "$CONTROL/dynamic-security/#",
    ):
        assert a.subscribe(target).is_failure, target
    assert not a.subscribe(topic(fleet.a, Channel.CONFIG)).is_failure
    # What A may do works, and is what ingest stores: one reading, A's own.
    assert not a.publish(topic(fleet.a, Channel.UP), batch(str(fleet.a.device))).is_failure
    assert not a.publish(topic(fleet.a, Channel.STATUS), b"{}").is_failure
    wait_until(lambda: count_points(store) >= 1, 20, "A's reading")
    time.sleep(1)
    assert count_points(store) == 1
    devices = store.query('SHOW TAG VALUES FROM "air_temperature" WITH KEY = "device"')
    assert [v for _, v in devices[0]["series"][0]["values"]] == [fleet.a.device]
    a.close()


def test_service_accounts_have_only_what_their_job_needs(
    services: Services, tmp_path: Path
) -> None:
    """Ingest cannot publish readings or configuration; the API can publish only configuration."""
    suffix = time.monotonic_ns()
    ingest_secret = services.service_account(ServiceRole.INGEST, f"ingest-acl-{suffix}", tmp_path)
    api_secret = services.service_account(ServiceRole.API, f"api-acl-{suffix}", tmp_path)
    base = MqttEndpoint.from_url(services.broker.url)
    ingest = probe(
        base.with_login(f"ingest-acl-{suffix}", ingest_secret.read_text().strip()),
        f"ingest-acl-{suffix}",
    )
    up = "shinshu/v1/t-acl/field/dev/up"
    config = "shinshu/v1/t-acl/field/dev/config"
    assert ingest.publish(up, batch("dev")).is_failure
    assert ingest.publish(config, b"{}").is_failure
    assert not ingest.publish("shinshu/deadletter/t-acl", b"{}").is_failure
    assert not ingest.subscribe("shinshu/v1/#").is_failure
    assert not ingest.subscribe("$share/workers/shinshu/v1/#").is_failure
    assert ingest.subscribe("$CONTROL/dynamic-security/#").is_failure
    ingest.close()
    api = probe(
        base.with_login(f"api-acl-{suffix}", api_secret.read_text().strip()), f"api-acl-{suffix}"
    )
    assert not api.publish(config, b"").is_failure
    for target in (
        up,
        "shinshu/v1/t-acl/field/dev/status",
        "shinshu/deadletter/t-acl",
        "$CONTROL/dynamic-security/v1",
    ):
        assert api.publish(target, b"{}").is_failure, target
    assert api.subscribe("shinshu/#").is_failure
    api.close()


def test_revoking_closes_the_live_session_and_rotating_replaces_the_secret(
    services: Services, fleet: Fleet
) -> None:
    """Revoked: disconnected and refused within 5 s. Rotated: new secret in, old one out."""
    accounts = services.accounts
    b_secret = accounts.rotate(fleet.b.username, actor="tests").secret
    live = probe(fleet.endpoint(fleet.b, b_secret), fleet.b.client_id)
    rotated = accounts.rotate(fleet.b.username, actor="tests").secret
    # A rotation also ends the session that logged in with the old secret.
    assert live.disconnected.wait(5)
    live.close()
    assert probe(fleet.endpoint(fleet.b, b_secret), fleet.b.client_id).connack.is_failure  # type: ignore[union-attr]
    fresh = probe(fleet.endpoint(fleet.b, rotated), fleet.b.client_id)
    assert fresh.connack is not None and not fresh.connack.is_failure

    started = time.monotonic()
    accounts.revoke(fleet.b.username, actor="tests")
    assert fresh.disconnected.wait(5), "the revoked device's session stayed open"
    again = probe(fleet.endpoint(fleet.b, rotated), fleet.b.client_id)
    assert again.connack is not None and again.connack.is_failure
    assert time.monotonic() - started < 5
    fresh.close()
    history = [e.action for e in accounts.registry.events(fleet.b.username)]
    assert history[-3:] == ["rotate", "rotate", "revoke"]


@pytest.mark.parametrize(
    ("action", "target", "expected"),
    [
        (Action.PUBLISH, "own/up", True),
        (Action.PUBLISH, "own/status", True),
        (Action.PUBLISH, "own/config", False),
        (Action.SUBSCRIBE, "own/config", True),
        (Action.SUBSCRIBE, "own/ack", True),
        (Action.PUBLISH, "other/up", False),
        (Action.SUBSCRIBE, "shinshu/#", False),
        (Action.SUBSCRIBE, "shinshu/v1/t-acl/field/+/config", False),
        (Action.PUBLISH, "shinshu/deadletter/t-acl", False),
    ],
)
def test_the_rules_an_http_backend_would_answer_match_the_broker(
    fleet: Fleet, action: Action, target: str, expected: bool
) -> None:
    """`identity.grants.allows` gives the broker's answers for a device account."""

    def resolve(name: str) -> str:
        owner, _, channel = name.partition("/")
        if owner == "own":
            return topic(fleet.a, Channel(channel))
        if owner == "other":
            return topic(fleet.b, Channel(channel)) if channel != "ack" else name
        return name

    full = (
        resolve(target)
        if not target.endswith("/ack")
        else (f"shinshu/v1/{fleet.a.tenant}/{fleet.a.site}/{fleet.a.device}/ack")
    )
    assert allows(fleet.a, action, full) is expected
    a = probe(fleet.endpoint(fleet.a, fleet.a_secret), fleet.a.client_id)
    if action is Action.PUBLISH:
        refused = a.publish(full, b"{}").is_failure
    else:
        refused = a.subscribe(full).is_failure
    a.close()
    assert refused is not expected
