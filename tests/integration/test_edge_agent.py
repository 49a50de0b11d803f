"""The edge agent as a real process against real Mosquitto (and InfluxDB where data is stored).

Ground truth: the agent journals every reading it committed to its spool (`journal = ...`),
and the simulated sensors' values are a pure function of the timestamp, so a stored point that
differs from what was sampled shows up.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support import IngestFactory, Services, count_points, make_influx, wait_until

from edge.agent import journal_lines
from edge.drivers.simulated import simulated_value
from edge.mqtt import MqttEndpoint, close_client, connect, make_client, subscribe
from edge.protocol import Channel, DeviceTopic, SensorKind
from shinshu.localservices import free_port
from storage.influx.client import InfluxStore

pytestmark = pytest.mark.integration

TENANT, SITE = "edge-test", "field"
AIR = SensorKind.AIR_TEMPERATURE
Key = tuple[str, str, int]


@dataclass
class Agent:
    """`python -m edge.cli --config agent.toml` as a real process."""

    folder: Path
    device: str
    broker_url: str
    settings: dict[str, object]
    sensors: list[dict[str, object]]
    proc: subprocess.Popen[bytes] | None = field(default=None)
    runs: int = 0

    @property
    def journal(self) -> Path:
        """Every reading the agent committed to its spool."""
        return self.folder / "journal.tsv"

    def topic(self, channel: Channel) -> str:
        """This agent's topic for `channel`."""
        return DeviceTopic(TENANT, SITE, self.device).topic(channel)

    def write_config(self) -> Path:
        """The agent's TOML file."""
        lines = [
            f'device = "{self.device}"',
            f'tenant = "{TENANT}"',
            f'site = "{SITE}"',
            f'mqtt_url = "{self.broker_url}"',
            f'data_dir = "{self.folder / "data"}"',
            f'journal = "{self.journal}"',
            *(f"{key} = {json.dumps(value)}" for key, value in self.settings.items()),
        ]
        for sensor in self.sensors:
            lines.append("[[sensors]]")
            for key, value in sensor.items():
                if isinstance(value, dict):
                    inner = ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items())
                    lines.append(f"{key} = {{ {inner} }}")
                else:
                    lines.append(f"{key} = {json.dumps(value)}")
        path = self.folder / "agent.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self) -> Agent:
        """Start (or restart) the process."""
        config = self.write_config()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHINSHU_")}
        env["PYTHONUNBUFFERED"] = "1"
        with (self.folder / f"agent-{self.runs}.log").open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edge.cli", "--config", str(config)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.runs += 1
        return self

    def signal(self, sig: int) -> None:
        """Send a signal to the running process."""
        assert self.proc is not None and self.proc.poll() is None, self.logs()
        self.proc.send_signal(sig)

    def kill(self) -> None:
        """kill -9: no chance to flush anything."""
        self.signal(signal.SIGKILL)
        assert self.proc is not None
        self.proc.wait()

    def stop(self) -> int:
        """SIGTERM and wait: the agent publishes its spool (within the grace period) and exits."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)

    def logs(self) -> str:
        """All runs' output."""
        return "\n".join(p.read_text() for p in sorted(self.folder.glob("agent-*.log")))

    def spool_left(self) -> tuple[int, int]:
        """Readings and unacknowledged batches still in the spool (agent stopped)."""
        db = sqlite3.connect(self.folder / "data" / "spool.sqlite3")
        try:
            readings = db.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
            batches = db.execute("SELECT COUNT(*) FROM batches").fetchone()[0]
        finally:
            db.close()
        return int(readings), int(batches)

    def sampled(self) -> dict[Key, float]:
        """The journal as {(sensor, kind, ts): value}; a reading appears once per commit."""
        if not self.journal.exists():
            return {}
        return {(s, k, t): v for s, k, t, v in journal_lines(self.journal)}


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[list[Agent]]:
    """Agents started by a test; all stopped afterwards."""
    started: list[Agent] = []
    yield started
    for agent in started:
        if agent.proc is not None and agent.proc.poll() is None:
            agent.proc.kill()
            agent.proc.wait()


def new_agent(
    agents: list[Agent],
    tmp_path: Path,
    services: Services,
    sensors: list[dict[str, object]] | None = None,
    *,
    tls: bool = False,
    url: str | None = None,
    **settings: object,
) -> Agent:
    """A registered device's agent (not started), fast test timings unless overridden.

    The device gets its own broker account from the registry; its secret is in a 0600 file.
    With `tls`, it connects to the TLS listener and verifies the broker against the local CA.
    """
    defaults: dict[str, object] = {
        "batch_linger_s": 0.2,
        "backoff_base_s": 0.2,
        "backoff_cap_s": 2.0,
        "status_interval_s": 5.0,
        "keepalive_s": 5,
        "drain_rate": 200.0,
        "shutdown_grace_s": 10.0,
    }
    defaults.update(settings)
    device = f"pi-{uuid.uuid4().hex[:8]}"
    folder = tmp_path / device
    folder.mkdir()
    defaults["mqtt_password_file"] = str(services.device_account(TENANT, SITE, device, folder))
    broker_url = url or services.broker.url
    if tls:
        broker_url = services.broker.tls_url
        defaults["mqtt_ca_file"] = str(services.broker.ca_file)
    sensors = sensors or [
        {"name": "air", "driver": "simulated", "kind": AIR.value, "interval_s": 0.1}
    ]
    agent = Agent(folder, device, broker_url, defaults, sensors)
    agents.append(agent)
    return agent


def stored(store: InfluxStore, device: str, kind: SensorKind = AIR) -> dict[Key, float]:
    """The device's points of one kind as {(sensor, kind, ts): value}."""
    results = store.query(
        f'SELECT "sensor", "value" FROM "{kind.value}" WHERE "device" = \'{device}\''
    )
    rows = results[0].get("series", [{}])[0].get("values", [])
    return {(sensor, kind.value, int(ts)): value for ts, sensor, value in rows}


def assert_values_are_the_sampled_ones(points: dict[Key, float], seed: int = 1) -> None:
    """Each stored value is the simulated sensor's value for its timestamp (none differs)."""
    for (sensor, kind, ts), value in points.items():
        assert value == simulated_value(seed, sensor, SensorKind(kind), ts), (sensor, ts)


class StatusWatcher:
    """Subscribes to an agent's retained status and keeps every message with its arrival."""

    def __init__(self, broker_url: str, topic: str) -> None:
        """Connect and subscribe."""
        self.messages: list[tuple[float, dict[str, object]]] = []
        self._client = make_client(MqttEndpoint.from_url(broker_url), f"watch-{uuid.uuid4().hex}")
        connect(self._client, MqttEndpoint.from_url(broker_url))
        subscribe(self._client, topic, self._on_message)

    def _on_message(self, _topic: str, payload: bytes) -> None:
        """Keep a status message with its arrival time."""
        if payload:
            self.messages.append((time.monotonic(), json.loads(payload)))

    def latest(self) -> dict[str, object]:
        """The newest status."""
        return self.messages[-1][1] if self.messages else {}

    def close(self) -> None:
        """Disconnect."""
        close_client(self._client)


def publish_retained(broker_url: str, topic: str, payload: bytes) -> None:
    """Publish a retained message (QoS 1) and wait for its PUBACK."""
    from edge.mqtt import Publisher

    client = make_client(MqttEndpoint.from_url(broker_url), f"ops-{uuid.uuid4().hex}")
    publisher = Publisher(client)
    connect(client, MqttEndpoint.from_url(broker_url))
    publisher.publish(topic, payload, retain=True)
    assert publisher.flush(10)
    close_client(client)


def test_broker_outage_of_60_s_at_10_readings_per_s_loses_nothing(
    own_services: Services,
    database: str,
    ingest_factory: IngestFactory,
    agents: list[Agent],
    tmp_path: Path,
) -> None:
    """Broker down 60 s while the agent samples 10/s: every reading sampled is stored, once."""
    services = own_services
    worker = ingest_factory(services, database)
    store = make_influx(services.influx, database)
    agent = new_agent(agents, tmp_path, services).start()
    wait_until(lambda: stored(store, agent.device), 30, "the first points")

    services.broker.stop()
    outage_start = time.time()
    time.sleep(60)
    outage_end = time.time()
    # Keep the agent from reconnecting until a subscriber is back: the broker runs without
    # persistence, so messages published before ingest resubscribes would have no recipient.
    agent.signal(signal.SIGSTOP)
    worker.kill()
    services.broker.start()
    ingest_factory(services, database)
    agent.signal(signal.SIGCONT)
    time.sleep(5)
    assert agent.stop() == 0, agent.logs()

    sampled = agent.sampled()
    during = [k for k in sampled if outage_start * 1000 <= k[2] <= outage_end * 1000]
    assert len(during) >= 570, f"only {len(during)} readings sampled during the outage"
    wait_until(lambda: len(stored(store, agent.device)) >= len(sampled), 60, "the backlog")
    points = stored(store, agent.device)
    assert set(points) == set(sampled)
    assert count_points(store) == len(sampled)
    assert_values_are_the_sampled_ones(points)
    assert agent.spool_left() == (0, 0)
    print(f"outage: {len(during)} readings sampled during 60 s, {len(points)} stored in total")


def test_kill_9_ten_times_while_publishing_loses_no_reading(
    services: Services,
    database: str,
    ingest_factory: IngestFactory,
    agents: list[Agent],
    tmp_path: Path,
) -> None:
    """10 × kill -9 at random moments at 100 readings/s: every committed reading stored once."""
    ingest_factory(services, database)
    store = make_influx(services.influx, database)
    sensors: list[dict[str, object]] = [
        {"name": "air", "driver": "simulated", "kind": AIR.value, "interval_s": 0.01}
    ]
    agent = new_agent(
        agents, tmp_path, services, sensors, batch_linger_s=0.05, batch_max_readings=50
    )
    rng = random.Random(7)
    for _ in range(10):
        agent.start()
        time.sleep(rng.uniform(0.6, 1.6))
        agent.kill()
    agent.start()
    time.sleep(2)
    assert agent.stop() == 0, agent.logs()

    sampled = agent.sampled()
    wait_until(lambda: len(stored(store, agent.device)) >= len(sampled), 60, "every reading")
    time.sleep(1)
    points = stored(store, agent.device)
    # A reading committed in the instant before a kill may miss the journal, never the store.
    assert set(sampled) <= set(points)
    assert len(points) - len(sampled) <= 10
    assert_values_are_the_sampled_ones(points)
    assert count_points(store) == len(points)
    assert agent.spool_left() == (0, 0)
    print(f"kill -9 x10: {len(sampled)} journalled, {len(points)} stored")


def test_spool_cap_drops_exactly_the_oldest_and_counts_them(
    own_services: Services,
    database: str,
    ingest_factory: IngestFactory,
    agents: list[Agent],
    tmp_path: Path,
) -> None:
    """Broker down from the start, a tiny cap: dropped count == readings missing, the oldest."""
    services = own_services
    store = make_influx(services.influx, database)
    sensors: list[dict[str, object]] = [
        {"name": "air", "driver": "simulated", "kind": AIR.value, "interval_s": 0.02}
    ]
    # Registered while the broker is up; it is down by the time the agent starts.
    agent = new_agent(agents, tmp_path, services, sensors, spool_max_bytes=4096)
    services.broker.stop()
    agent.start()
    time.sleep(5)
    agent.signal(signal.SIGSTOP)
    services.broker.start()
    ingest_factory(services, database)
    watcher = StatusWatcher(services.url, agent.topic(Channel.STATUS))
    agent.signal(signal.SIGCONT)
    time.sleep(3)
    assert agent.stop() == 0, agent.logs()
    wait_until(lambda: watcher.latest().get("state") == "offline", 10, "the final status")
    final = watcher.latest()
    watcher.close()
    spool = final["spool"]
    assert isinstance(spool, dict)
    dropped = spool["dropped"]

    sampled = agent.sampled()
    wait_until(lambda: len(stored(store, agent.device)) >= len(sampled) - dropped, 30, "the spool")
    time.sleep(1)
    points = stored(store, agent.device)
    missing = set(sampled) - set(points)
    assert dropped > 100
    assert set(points) <= set(sampled)
    assert len(missing) == dropped
    assert max(k[2] for k in missing) < min(k[2] for k in points)
    assert spool["readings"] == 0
    print(f"spool cap: {len(sampled)} sampled, {dropped} dropped = {len(missing)} missing")


@dataclass
class CountingProxy:
    """A TCP relay agent -> broker that counts QoS 1 PUBLISH not yet PUBACKed to the agent.

    It delays the broker's PUBACKs, so an agent that ignored its window would show it.
    """

    broker_port: int
    ack_delay_s: float
    port: int = field(default_factory=free_port)
    max_outstanding: int = 0
    published: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> CountingProxy:
        """Listen in a background thread."""
        server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()
        return self

    def _accept(self, server: socket.socket) -> None:
        """Relay each agent connection to the broker."""
        while True:
            client, _ = server.accept()
            upstream = socket.create_connection(("127.0.0.1", self.broker_port))
            outstanding: set[int] = set()
            for args in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pump, args=(*args, outstanding), daemon=True).start()

    def _pump(
        self, src: socket.socket, dst: socket.socket, up: bool, outstanding: set[int]
    ) -> None:
        """Forward packets one way, counting QoS 1 publishes (up) and PUBACKs (down)."""
        buffer = b""
        try:
            while chunk := src.recv(65536):
                buffer += chunk
                while (packet := _split_packet(buffer)) is not None:
                    raw, kind, flags, body = packet
                    buffer = buffer[len(raw) :]
                    if up and kind == 3 and flags >> 1 & 3 == 1:
                        topic_len = struct.unpack_from(">H", body)[0]
                        (pid,) = struct.unpack_from(">H", body, 2 + topic_len)
                        with self._lock:
                            outstanding.add(pid)
                            self.published += 1
                            self.max_outstanding = max(self.max_outstanding, len(outstanding))
                    if not up and kind == 4:
                        time.sleep(self.ack_delay_s)
                        with self._lock:
                            outstanding.discard(struct.unpack_from(">H", body)[0])
                    dst.sendall(raw)
        except OSError:
            pass
        finally:
            src.close()
            dst.close()


def _split_packet(buffer: bytes) -> tuple[bytes, int, int, bytes] | None:
    """The first complete MQTT packet in `buffer`: (raw, type, flags, body), or None."""
    if len(buffer) < 2:
        return None
    length, multiplier, index = 0, 1, 1
    while True:
        if index >= len(buffer):
            return None
        byte = buffer[index]
        length += (byte & 0x7F) * multiplier
        multiplier *= 128
        index += 1
        if not byte & 0x80:
            break
    end = index + length
    if len(buffer) < end:
        return None
    return buffer[:end], buffer[0] >> 4, buffer[0] & 0x0F, buffer[index:end]


def test_broker_never_sees_more_unacknowledged_messages_than_the_window(
    services: Services, agents: list[Agent], tmp_path: Path
) -> None:
    """Slow PUBACKs and a fast sensor: outstanding QoS 1 messages reach the limit, never more."""
    proxy = CountingProxy(services.broker.port, ack_delay_s=0.05).start()
    sensors: list[dict[str, object]] = [
        {"name": "air", "driver": "simulated", "kind": AIR.value, "interval_s": 0.005}
    ]
    agent = new_agent(
        agents,
        tmp_path,
        services,
        sensors,
        url=f"mqtt://127.0.0.1:{proxy.port}",
        inflight=4,
        batch_max_readings=5,
        batch_linger_s=0.01,
        drain_rate=1000.0,
        status_interval_s=0.5,
    ).start()
    wait_until(lambda: proxy.published >= 100, 30, "100 messages through the proxy")
    agent.kill()
    assert proxy.max_outstanding == 4
    print(f"in-flight: {proxy.published} messages, at most {proxy.max_outstanding} unacknowledged")


def test_remote_config_applies_within_one_interval_and_invalid_is_refused(
    services: Services, agents: list[Agent], tmp_path: Path
) -> None:
    """Retained config: new interval and an enabled sensor take effect; a bad one is reported."""
    sensors: list[dict[str, object]] = [
        {"name": "a", "driver": "simulated", "kind": AIR.value, "interval_s": 1.0},
        {
            "name": "b",
            "driver": "simulated",
            "kind": "soil_moisture",
            "interval_s": 0.2,
            "enabled": False,
        },
        {
            "name": "bad",
            "driver": "simulated",
            "kind": AIR.value,
            "interval_s": 0.3,
            "options": {"fail": True},
        },
    ]
    agent = new_agent(agents, tmp_path, services, sensors, status_interval_s=30.0)
    watcher = StatusWatcher(services.url, agent.topic(Channel.STATUS))
    agent.start()
    wait_until(lambda: watcher.latest().get("state") == "online", 20, "the agent online")
    time.sleep(1.5)

    sent_at = time.time() * 1000
    config = {"rev": 1, "sensors": {"a": {"interval_s": 0.2}, "b": {"enabled": True}}}
    publish_retained(services.url, agent.topic(Channel.CONFIG), json.dumps(config).encode())
    wait_until(
        lambda: watcher.latest().get("config", {}).get("state") == "applied",  # type: ignore[union-attr]
        5,
        "the config applied",
    )
    time.sleep(1.5)
    sampled = sorted(agent.sampled())
    a_times = [t for s, _, t in sampled if s == "a"]
    b_times = [t for s, _, t in sampled if s == "b"]
    fast = [t for prev, t in itertools.pairwise(a_times) if t - prev < 300]
    assert fast and fast[0] - sent_at <= 1000, (a_times, sent_at)
    assert b_times and b_times[0] - sent_at <= 1000
    status = watcher.latest()
    assert status["config"] == {"state": "applied", "rev": 1, "error": None}
    sensors_status = status["sensors"]
    assert isinstance(sensors_status, dict)
    assert sensors_status["a"]["interval_s"] == 0.2
    assert sensors_status["bad"]["errors"] >= 3
    assert "set to fail" in sensors_status["bad"]["last_error"]
    assert not [s for s, _, _ in sampled if s == "bad"]

    bad_config = {"rev": 2, "sensors": {"a": {"interval_s": -5}}}
    publish_retained(services.url, agent.topic(Channel.CONFIG), json.dumps(bad_config).encode())
    wait_until(
        lambda: watcher.latest().get("config", {}).get("state") == "rejected",  # type: ignore[union-attr]
        5,
        "the config refused",
    )
    refused = watcher.latest()["config"]
    assert isinstance(refused, dict)
    assert refused["rev"] == 1 and "interval_s" in refused["error"]
    before = len([k for k in agent.sampled() if k[0] == "a"])
    time.sleep(1.0)
    assert len([k for k in agent.sampled() if k[0] == "a"]) - before >= 4  # still every 0.2 s
    publish_retained(services.url, agent.topic(Channel.CONFIG), b"")
    agent.stop()
    watcher.close()


def test_status_shows_offline_within_the_keepalive_after_the_agent_dies(
    services: Services, agents: list[Agent], tmp_path: Path
) -> None:
    """kill -9: the broker publishes the last will (retained offline) within the keep-alive."""
    keepalive = 2
    agent = new_agent(agents, tmp_path, services, keepalive_s=keepalive)
    watcher = StatusWatcher(services.url, agent.topic(Channel.STATUS))
    agent.start()
    wait_until(lambda: watcher.latest().get("state") == "online", 20, "the agent online")
    killed = time.monotonic()
    agent.kill()
    wait_until(lambda: watcher.latest().get("state") == "offline", 1.5 * keepalive, "offline")
    arrived = watcher.messages[-1][0]
    watcher.close()
    # Retained: a newcomer learns it too.
    late = StatusWatcher(services.url, agent.topic(Channel.STATUS))
    wait_until(lambda: late.latest().get("state") == "offline", 5, "the retained offline status")
    late.close()
    print(f"offline {arrived - killed:.2f} s after kill -9 (keep-alive {keepalive} s)")
