"""A three-node RabbitMQ cluster: devices on MQTT 3.1.1 to any node, ingest on a quorum queue.

Real processes throughout: three `rabbitmq-server` nodes, the HTTP authentication service on
the platform's device registry, two `shinshu ingest` workers consuming the quorum queue over
AMQP, and a private InfluxDB. One node is killed with SIGKILL in mid-stream and restarted.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from support import Ingest, count_points, make_influx, wait_until

from edge.agent import journal_lines
from edge.credentials import write_secret_file
from edge.mqtt import MqttEndpoint, MqttError, close_client, connect, make_client
from edge.protocol import Channel, DeviceTopic, encode_batch
from identity.accounts import ServiceRole
from identity.auth_http import AuthServer
from identity.rabbit_auth import RabbitAuth
from identity.registry import Registry
from identity.service import AccountService, Issued
from shinshu.localservices import LocalInfluxDB, free_port
from shinshu.rabbitcluster import RabbitCluster, start_cluster
from simulators.fleet import device_name, simple_readings

pytestmark = pytest.mark.integration

TENANT = "acme"
SITE = "plant"
DEVICES = 5
READINGS = 2_000
BATCH = 100
TOTAL = DEVICES * READINGS


@dataclass
class Bench:
    """The cluster, the registry behind its authentication, and the database."""

    folder: Path
    cluster: RabbitCluster
    accounts: AccountService
    influx: LocalInfluxDB


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    """Started once per module: a cluster takes about 20 s to form."""
    folder = tmp_path_factory.mktemp("rabbit")
    registry = Registry(folder / "registry.sqlite3")
    auth = AuthServer(RabbitAuth(registry))
    auth.start()
    influx = LocalInfluxDB("influxdb", folder, free_port())
    influx.start()
    cluster = start_cluster(folder / "cluster", auth.url)
    try:
        yield Bench(folder, cluster, AccountService(registry, None), influx)
    finally:
        cluster.stop()
        influx.stop()
        auth.stop()
        registry.close()


def _ingest(bench: Bench, database: str, index: int) -> Ingest:
    """A `shinshu ingest` worker on the quorum queue with its own ingest account."""
    username = f"ingest-{uuid.uuid4().hex[:8]}"
    issued = bench.accounts.add_service(ServiceRole.INGEST, username, actor="tests")
    secret = write_secret_file(bench.folder / f"{username}.secret", issued.secret)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHINSHU_")}
    env.update(
        {
            "SHINSHU_INGEST_SOURCE": "amqp",
            "SHINSHU_AMQP_URL": bench.cluster.amqp_url,
            "SHINSHU_AMQP_USERNAME": username,
            "SHINSHU_AMQP_PASSWORD_FILE": str(secret),
            "SHINSHU_INGEST_CLIENT_ID": username,
            "SHINSHU_INGEST_METRICS_PORT": str(port),
            "SHINSHU_INFLUX_URL": bench.influx.url,
            "SHINSHU_INFLUX_DB": database,
            "SHINSHU_DATA_DIR": str(bench.folder / username),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return Ingest(env, bench.folder / f"ingest-{index}.log", port).start()


class Device:
    """A device on MQTT 3.1.1: QoS 1, each batch sent again until some node acknowledged it."""

    def __init__(self, bench: Bench, index: int, secret: str) -> None:
        """Device `index`, starting on node `index % 3`."""
        self.name = device_name(index)
        self.index = index
        self.topic = DeviceTopic(TENANT, SITE, self.name).topic(Channel.UP)
        self.client_id = bench.accounts.device(TENANT, SITE, self.name).client_id
        self.secret = secret
        self.ports = [node.mqtt_port for node in bench.cluster.nodes]
        self.node = index % len(self.ports)
        self.reconnects = 0

    def _connected(self) -> object:
        """A client connected to the current node, moving on to the next one until one takes it."""
        while True:
            endpoint = MqttEndpoint("127.0.0.1", self.ports[self.node], username=self.client_id)
            endpoint = endpoint.with_login(self.client_id, self.secret)
            client = make_client(endpoint, self.client_id, protocol="3.1.1")
            try:
                connect(client, endpoint, timeout=5)
                return client
            except MqttError:
                self.node = (self.node + 1) % len(self.ports)
                self.reconnects += 1
                time.sleep(0.2)

    def run(self, pace_s: float) -> None:
        """Publish every batch, waiting for its PUBACK; a lost node means the next one."""
        # One reading a second, the last one now (ingest refuses readings over a year old).
        start_ms = int(time.time() * 1000) - READINGS * 1_000
        readings = simple_readings(self.index, READINGS, start_ms, 1_000, seed=1)
        client = self._connected()
        for seq, start in enumerate(range(0, READINGS, BATCH)):
            payload = encode_batch(
                self.name, seq, int(time.time() * 1000), readings[start:][:BATCH]
            )
            while True:
                if _acknowledged(client.publish(self.topic, payload, qos=1)):  # type: ignore[attr-defined]
                    break
                close_client(client, timeout=1)  # type: ignore[arg-type]
                self.node = (self.node + 1) % len(self.ports)
                self.reconnects += 1
                client = self._connected()
            time.sleep(pace_s)
        close_client(client)  # type: ignore[arg-type]


def test_every_reading_is_stored_once_across_a_node_killed_mid_stream(bench: Bench) -> None:
    """5 devices x 2,000 readings over three nodes, one SIGKILLed and restarted: 10,000 stored."""
    database = f"test_{uuid.uuid4().hex[:12]}"
    names = [(TENANT, SITE, device_name(i)) for i in range(DEVICES)]
    issued = bench.accounts.issue_devices(names, actor="tests")
    workers = [_ingest(bench, database, i) for i in range(2)]
    try:
        _stream_through_a_node_kill(bench, database, issued, names)
    finally:
        for worker in workers:
            worker.shut_down()


def _stream_through_a_node_kill(
    bench: Bench,
    database: str,
    issued: dict[tuple[str, str, str], Issued],
    names: list[tuple[str, str, str]],
) -> None:
    """Devices stream while the first node (queue leader, workers' node) is killed and back."""
    devices = [Device(bench, i, issued[name].secret) for i, name in enumerate(names)]
    threads = [threading.Thread(target=d.run, args=(0.15,)) for d in devices]
    for thread in threads:
        thread.start()
    store = make_influx(bench.influx, database)
    victim = bench.cluster.nodes[0]
    # Mid-stream: some batches stored, most not yet sent.
    wait_until(lambda: _count(store) >= TOTAL // 10, 30, "the first readings to be stored")
    assert _count(store) < TOTAL
    victim.kill()
    time.sleep(2)
    victim.start()
    victim.await_startup()
    for thread in threads:
        thread.join(120)
    wait_until(lambda: _count(store) >= TOTAL, 60, f"{TOTAL} readings stored")
    # Anything delivered twice is stored under the same key: still exactly the total.
    time.sleep(2)
    assert count_points(store) == TOTAL
    assert sum(d.reconnects for d in devices) > 0, "no device was on the killed node"


def _acknowledged(info: paho.MQTTMessageInfo, timeout: float = 5) -> bool:
    """Whether a node sent the PUBACK in time (False too when the connection was lost)."""
    try:
        info.wait_for_publish(timeout=timeout)
        return info.is_published()
    except (RuntimeError, ValueError):
        return False


def _count(store: object) -> int:
    """Points stored so far (0 before the database exists)."""
    try:
        return count_points(store)  # type: ignore[arg-type]
    except Exception:
        return 0


def test_wrong_credentials_are_refused_by_every_node(bench: Bench) -> None:
    """A registered device with a wrong secret, and an unknown one, cannot log in anywhere."""
    name = device_name(99)
    bench.accounts.issue_devices([(TENANT, SITE, name)], actor="tests")
    client_id = bench.accounts.device(TENANT, SITE, name).client_id
    for node in bench.cluster.nodes:
        for username in (client_id, "nobody"):
            endpoint = MqttEndpoint("127.0.0.1", node.mqtt_port).with_login(username, "wrong")
            client = make_client(endpoint, username, protocol="3.1.1")
            with pytest.raises(MqttError, match="refused"):
                connect(client, endpoint, timeout=10)
            client.loop_stop()


def test_a_device_may_publish_only_on_its_own_topics_on_every_node(bench: Bench) -> None:
    """Logged in rightly, a device publishing as another device is cut off by every node."""
    mine, other = device_name(97), device_name(98)
    issued = bench.accounts.issue_devices([(TENANT, SITE, mine), (TENANT, SITE, other)], actor="t")
    account = issued[TENANT, SITE, mine].account
    foreign = DeviceTopic(TENANT, SITE, other).topic(Channel.UP)
    own = DeviceTopic(TENANT, SITE, mine).topic(Channel.STATUS)
    for node in bench.cluster.nodes:
        endpoint = MqttEndpoint("127.0.0.1", node.mqtt_port).with_login(
            account.username, issued[TENANT, SITE, mine].secret
        )
        client = make_client(endpoint, account.client_id, protocol="3.1.1")
        connect(client, endpoint, timeout=10)
        # MQTT 3.1.1 has no refusal code in a PUBACK: the node closes the connection instead.
        assert _acknowledged(client.publish(own, b"{}", qos=1))
        assert not _acknowledged(client.publish(foreign, b"{}", qos=1), timeout=2)
        assert not client.is_connected()
        close_client(client, timeout=1)


def test_the_edge_agent_on_mqtt_3_1_1_gets_its_receipts_through_the_cluster(
    bench: Bench,
) -> None:
    """The real agent, `mqtt_protocol = "3.1.1"`, on node 2: every reading stored, spool empty.

    Its batches leave the spool only on ingest's receipt, which the AMQP worker publishes to
    amq.topic and the node delivers to the agent's MQTT subscription: the whole loop.
    """
    database = f"test_{uuid.uuid4().hex[:12]}"
    device = f"pi-{uuid.uuid4().hex[:8]}"
    folder = bench.folder / device
    folder.mkdir()
    issued = bench.accounts.issue_devices([(TENANT, SITE, device)], actor="tests")
    secret = write_secret_file(folder / "device.secret", issued[TENANT, SITE, device].secret)
    journal = folder / "journal.tsv"
    config = folder / "agent.toml"
    node = bench.cluster.nodes[1]
    config.write_text(
        "\n".join(
            [
                f'device = "{device}"',
                f'tenant = "{TENANT}"',
                f'site = "{SITE}"',
                f'mqtt_url = "mqtt://127.0.0.1:{node.mqtt_port}"',
                'mqtt_protocol = "3.1.1"',
                f'mqtt_password_file = "{secret}"',
                f'data_dir = "{folder / "data"}"',
                f'journal = "{journal}"',
                "batch_linger_s = 0.2",
                "backoff_base_s = 0.2",
                "backoff_cap_s = 2.0",
                "keepalive_s = 5",
                "receipt_timeout_s = 5.0",
                "shutdown_grace_s = 10.0",
                "[[sensors]]",
                'name = "air"',
                'driver = "simulated"',
                'kind = "air_temperature"',
                "interval_s = 0.1",
            ]
        )
        + "\n"
    )
    worker = _ingest(bench, database, 9)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHINSHU_")}
    log_path = folder / "agent.log"
    with log_path.open("wb") as out:
        agent = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "--config", str(config)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        store = make_influx(bench.influx, database)
        wait_until(lambda: _count(store) >= 30, 30, "the agent's readings to be stored")
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(60) == 0, log_path.read_text()
        sampled = {ts for _s, _k, ts, _v in journal_lines(journal)}
        wait_until(lambda: _count(store) >= len(sampled), 30, "every sampled reading stored")
        rows = store.query(f'SELECT "value" FROM "air_temperature" WHERE "device" = \'{device}\'')
        assert {int(ts) for ts, _v in rows[0]["series"][0]["values"]} == sampled
        # Every batch's receipt came back over MQTT 3.1.1: nothing is left to send.
        spool = sqlite3.connect(folder / "data" / "spool.sqlite3")
        try:
            left = spool.execute("SELECT COUNT(*) FROM batches").fetchone()[0]
        finally:
            spool.close()
        assert left == 0, log_path.read_text()
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
        worker.shut_down()
