"""Ingest throughput against real Mosquitto and InfluxDB, with reference rates from the same run.

(a) Backlog drain: N single-reading messages wait in the broker for the ingest session; the
    worker is started and timed until InfluxDB holds every reading. Reference: a bare paho
    subscriber draining the same backlog without storing anything. Target ratio >= 0.6.
(b) Live stream: publishers send 100-reading messages while the worker runs; readings/s stored.
    Reference: InfluxDB's own ceiling for pre-built line-protocol bodies. Target >= 150,000/s.
    Run three times in one go: on the shipped broker configuration (every client with its own
    account) over plain MQTT and over TLS, and, as the reference for what both cost, on the
    same configuration without accounts or TLS (a broker that admits anyone: here only).

Usage: python bench/ingest.py [--backlog 100000] [--stream-readings 3000000] [--workers 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
import psutil

from core.time import MS_PER_DAY
from edge.credentials import read_secret_file, write_secret_file
from edge.mqtt import MqttEndpoint, Publisher, connect, connect_properties, make_client
from edge.protocol import Channel, DeviceTopic, Reading, SensorKind, encode_batch
from identity.accounts import ServiceRole, device_username
from identity.registry import AccountExistsError
from identity.service import AccountService
from shinshu.localservices import LocalInfluxDB, LocalMosquitto, free_port, require_binary
from storage.influx.client import InfluxStore

RECEIVE_MAXIMUM = 1_000
# "password": one shared login in a password file, no per-device accounts, ACLs or TLS - the
# reference for what the dynamic-security accounts and TLS cost. No mode is anonymous.
MODES = ("password", "auth", "auth+tls")
SHARED_USER = "bench"


@dataclass(frozen=True)
class Access:
    """How clients reach one broker: URL, CA, and accounts issued for them (None: every client
    logs in with the broker's one shared password)."""

    url: str
    broker: LocalMosquitto
    accounts: AccountService | None
    ca_file: Path | None = None
    shared_secret_file: Path | None = None

    def _shared(self, endpoint: MqttEndpoint) -> MqttEndpoint:
        assert self.shared_secret_file is not None
        return endpoint.with_login(SHARED_USER, read_secret_file(self.shared_secret_file))

    def device(self, tenant: str, site: str, device: str) -> MqttEndpoint:
        """A publisher's endpoint: the device's own account."""
        endpoint = MqttEndpoint.from_url(self.url)
        if self.ca_file is not None:
            endpoint = endpoint.with_tls_files(self.ca_file)
        if self.accounts is None:
            return self._shared(endpoint)
        issued = self.accounts.issue_devices([(tenant, site, device)], actor="bench")
        return endpoint.with_login(
            device_username(tenant, site, device), issued[tenant, site, device].secret
        )

    def service(self, username: str) -> MqttEndpoint:
        """A service account's endpoint (the broker made its secret when it first started)."""
        endpoint = self.broker.endpoint(username, tls=self.ca_file is not None)
        if self.accounts is None:
            endpoint = self._shared(endpoint)
        return endpoint

    def service_env(
        self, client_id: str, folder: Path, role: ServiceRole = ServiceRole.INGEST
    ) -> dict[str, str]:
        """The environment of a service (an ingest worker by default) with its own account."""
        env = {"SHINSHU_MQTT_URL": self.url}
        if self.ca_file is not None:
            env["SHINSHU_MQTT_CA_FILE"] = str(self.ca_file)
        if self.accounts is None:
            assert self.shared_secret_file is not None
            env["SHINSHU_MQTT_URL"] = self.url.replace("://", f"://{SHARED_USER}@", 1)
            env["SHINSHU_MQTT_PASSWORD_FILE"] = str(self.shared_secret_file)
        else:
            try:
                issued = self.accounts.add_service(role, client_id, actor="bench")
            except AccountExistsError:
                issued = self.accounts.rotate(client_id, actor="bench")
            secret = write_secret_file(folder / f"{client_id}.secret", issued.secret)
            env["SHINSHU_MQTT_PASSWORD_FILE"] = str(secret)
        return env


class PasswordMosquitto(LocalMosquitto):
    """The shipped configuration with one shared login instead of accounts, and no TLS."""

    @property
    def shared_secret_file(self) -> Path:
        """The shared login's secret (0600)."""
        return self.folder / "shared.secret"

    def command(self) -> list[str]:
        """The shipped file with the plugin and TLS listener replaced by a password file."""
        command = super().command()
        conf = Path(command[-1])
        passwords = self.folder / "passwd"
        secret = secrets.token_urlsafe(24)
        write_secret_file(self.shared_secret_file, secret)
        # Written in plain text (0600), then hashed in place: the secret is never an argument.
        write_secret_file(passwords, f"{SHARED_USER}:{secret}")
        subprocess.run(
            [require_binary("mosquitto_passwd", "mosquitto"), "-U", str(passwords)],
            check=True,
            capture_output=True,
        )
        kept = []
        for line in conf.read_text().splitlines():
            if line.startswith(("plugin", "cafile", "certfile", "keyfile", "tls_version")):
                continue
            if line.startswith(f"listener {self.tls_port}"):
                continue
            kept.append(line)
        kept.append(f"password_file {passwords}")
        conf.write_text("\n".join(kept) + "\n")
        return command

    def ready(self) -> bool:
        """The plain listener answers (there is no TLS one)."""
        return self._port_open()


def access(mode: str, tmp: Path) -> Access:
    """A broker for `mode` (password, auth, auth+tls) in its own folder, started."""
    folder = tmp / mode.replace("+", "-")
    folder.mkdir()
    if mode == "password":
        shared = PasswordMosquitto("mosquitto", folder, free_port(), tls_port=free_port())
        shared.start()
        return Access(shared.url, shared, None, shared_secret_file=shared.shared_secret_file)
    broker = LocalMosquitto("mosquitto", folder, free_port(), tls_port=free_port())
    broker.start()
    accounts = broker.accounts()
    if mode == "auth":
        return Access(broker.url, broker, accounts)
    return Access(broker.tls_url, broker, accounts, broker.ca_file)


# Readings one millisecond apart, ending before now: inside the protocol's time window.
T0_MS = int(time.time() * 1000) - MS_PER_DAY
SESSION_S = 3600


def payloads(device: str, messages: int, per_message: int, start_ms: int) -> list[bytes]:
    """Pre-encoded batches, so the publisher spends its time publishing."""
    kind = SensorKind.SOIL_MOISTURE
    out = []
    sent = int(time.time() * 1000)
    for seq in range(messages):
        base = start_ms + seq * per_message
        readings = [Reading(kind.value, kind, base + i, 20.0 + (i % 7)) for i in range(per_message)]
        out.append(encode_batch(device, seq, sent, readings))
    return out


def publish_all(
    endpoint: MqttEndpoint,
    topic: str,
    bodies: list[bytes],
    window: int = 2_000,
    rate: float | None = None,
) -> None:
    """Publish every body at QoS 1 (at `rate` messages/s, evenly spaced, when given) and wait
    for the PUBACKs."""
    client_id = endpoint.username or f"bench-pub-{os.getpid()}-{time.monotonic_ns()}"
    client = make_client(endpoint, client_id)
    publisher = Publisher(client, window=window)
    connect(client, endpoint)
    publish_through(client, publisher, topic, bodies, rate)


def publish_through(
    client: paho.Client,
    publisher: Publisher,
    topic: str,
    bodies: list[bytes],
    rate: float | None = None,
) -> None:
    """Publish every body through a connected client (at `rate` messages/s when given), wait
    for the PUBACKs, disconnect."""
    began = time.perf_counter()
    for i, body in enumerate(bodies):
        if rate is not None:
            ahead = began + i / rate - time.perf_counter()
            if ahead > 0.005:  # sleeping for less costs more than it spaces
                time.sleep(ahead)
        publisher.publish(topic, body)
    publisher.flush()
    client.disconnect()
    client.loop_stop()


def _publisher_process(
    endpoint: MqttEndpoint, topic: str, device: str, messages: int, *, ready: Any, go: Any
) -> None:
    bodies = payloads(device, messages, 100, T0_MS)
    ready.release()
    go.wait()
    publish_all(endpoint, topic, bodies)


def bare_drain(where: Access, messages: int, per_message: int) -> float:
    """Messages/s of a subscriber that only receives and acknowledges (the monitor account)."""
    monitor = "shinshu-monitor"
    endpoint = where.service(monitor)
    props = connect_properties(session_expiry_s=SESSION_S, receive_maximum=RECEIVE_MAXIMUM)
    client = make_client(endpoint, monitor)
    connect(client, endpoint, clean_start=False, properties=props)
    done = threading.Event()
    subscribed = threading.Event()
    client.on_subscribe = lambda *_a: subscribed.set()
    topic = DeviceTopic("bench", "bare", "dev").topic(Channel.UP)
    client.subscribe(topic, qos=1)
    subscribed.wait(5)
    client.disconnect()
    client.loop_stop()
    publisher = where.device("bench", "bare", "dev")
    publish_all(publisher, topic, payloads("dev", messages, per_message, T0_MS))
    received = [0]
    started = [0.0]

    def on_message(_c: paho.Client, _u: object, _m: paho.MQTTMessage) -> None:
        if not received[0]:
            started[0] = time.perf_counter()
        received[0] += 1
        if received[0] == messages:
            done.set()

    client = make_client(endpoint, monitor)
    client.on_message = on_message
    began = time.perf_counter()
    connect(client, endpoint, clean_start=False, properties=props)
    done.wait(600)
    elapsed = time.perf_counter() - began
    client.disconnect()
    client.loop_stop()
    return messages / elapsed


def start_ingest(
    where: Access,
    influx: LocalInfluxDB,
    *,
    db: str,
    client_id: str,
    log: Path,
    group: str | None = None,
    group_commit: bool = True,
) -> tuple[subprocess.Popen[bytes], int, float]:
    """Run `shinshu ingest` until it subscribed: the process, its metrics port, when it was up.

    "Up" is when its metrics first answered, just before it connects to the broker: Python's
    start-up is not part of the drain.
    """
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SHINSHU_")},
        **where.service_env(client_id, log.parent),
        "SHINSHU_INFLUX_URL": influx.url,
        "SHINSHU_INFLUX_DB": db,
        "SHINSHU_INGEST_CLIENT_ID": client_id,
        "SHINSHU_INGEST_METRICS_PORT": str(port),
        "SHINSHU_INGEST_RECEIVE_MAXIMUM": str(RECEIVE_MAXIMUM),
        "SHINSHU_LOG_LEVEL": "WARNING",
        "SHINSHU_INGEST_GROUP_COMMIT": "true" if group_commit else "false",
    }
    if group:
        env["SHINSHU_INGEST_GROUP"] = group
    proc = subprocess.Popen(
        [sys.executable, "-m", "shinshu.cli", "ingest"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    up = 0.0
    while time.monotonic() < deadline:
        try:
            subscribed = stored_metric(port, "shinshu_ingest_subscribed")
            up = up or time.perf_counter()
            if subscribed == 1.0:
                return proc, port, up
        except httpx.HTTPError:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"ingest did not start; see {log}")


def stored_metric(port: int, name: str = "shinshu_ingest_readings_stored_total") -> float:
    """One sample of a worker's metrics."""
    for line in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def wait_stored(ports: list[int], total: int, timeout: float = 900) -> float:
    """Wait until the workers report `total` stored readings; return the time it took."""
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        if sum(stored_metric(p) for p in ports) >= total:
            return time.perf_counter() - began
        time.sleep(0.05)
    raise RuntimeError("timed out")


def backlog(where: Access, influx: LocalInfluxDB, messages: int, tmp: Path, *, mode: str) -> float:
    """(a) drain a broker backlog of single-reading messages: messages/s stored."""
    bare = bare_drain(where, messages, 1)
    db = f"bench_backlog_{mode.replace('+', '_')}"
    print(f"(a) backlog [{mode}] of {messages:,} single-reading messages")
    print(f"    bare paho subscriber (receive + ack only): {bare:10,.0f} msg/s", flush=True)
    log = tmp / f"a-{mode.replace('+', '-')}.log"
    proc, _, _ = start_ingest(where, influx, db=db, client_id="bench-backlog", log=log)
    proc.terminate()
    proc.wait()
    topic = DeviceTopic("bench", "backlog", "dev").topic(Channel.UP)
    publish_all(where.device("bench", "backlog", "dev"), topic, payloads("dev", messages, 1, T0_MS))
    proc, port, up = start_ingest(where, influx, db=db, client_id="bench-backlog", log=log)
    wait_stored([port], messages)
    elapsed = time.perf_counter() - up
    proc.terminate()
    proc.wait()
    store = InfluxStore(httpx.Client(base_url=influx.url, timeout=60), db)
    stored = store.count_points()
    rate = messages / elapsed
    print(
        f"    shinshu ingest, into InfluxDB:             {rate:10,.0f} msg/s "
        f"({stored:,} points stored)"
    )
    print(f"    ratio: {rate / bare:.2f}  (target >= 0.8)")
    return rate


def influx_ceiling(influx: LocalInfluxDB, bodies: int = 200, per_body: int = 5_000) -> float:
    """Points/s InfluxDB takes for pre-encoded 5,000-reading batches from 2 concurrent writers."""
    store = InfluxStore(httpx.Client(base_url=influx.url, timeout=60), "bench_ceiling")
    store.ensure_database()
    topic = DeviceTopic("bench", "ceiling", "dev")
    blocks = []
    for b in range(bodies):
        kind = SensorKind.SOIL_MOISTURE
        readings = [
            Reading(f"s{i % 100}", kind, T0_MS + b * per_body + i, 1.0 + i % 9)
            for i in range(per_body)
        ]
        # A batch is encoded as it is filled: the timed part is the writes alone.
        block = store.new_batch()
        block.add_readings(topic, readings)
        blocks.append(block)
    began = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(store.write_batch, blocks))
    return bodies * per_body / (time.perf_counter() - began)


def stream(
    where: Access,
    influx: LocalInfluxDB,
    readings: int,
    workers: int,
    tmp: Path,
    *,
    mode: str,
    ceiling: float,
) -> float:
    """(b) a live stream of 100-reading messages from several publisher processes: readings/s."""
    group = "bench" if workers > 1 else None
    db = f"bench_stream_{mode.replace('+', '_')}"
    procs = [
        start_ingest(
            where,
            influx,
            db=db,
            client_id=f"bench-stream-{i}",
            log=tmp / f"b{i}-{mode.replace('+', '-')}.log",
            group=group,
        )
        for i in range(workers)
    ]
    publishers = 4
    per_publisher = readings // publishers // 100
    ctx = multiprocessing.get_context("spawn")
    ready, go = ctx.Semaphore(0), ctx.Event()
    pubs = []
    for i in range(publishers):
        topic = DeviceTopic("bench", "stream", f"dev{i}").topic(Channel.UP)
        pubs.append(
            ctx.Process(
                target=_publisher_process,
                args=(where.device("bench", "stream", f"dev{i}"), topic, f"dev{i}", per_publisher),
                kwargs={"ready": ready, "go": go},
            )
        )
    for p in pubs:
        p.start()
    for _ in pubs:
        ready.acquire()  # payloads are encoded before the clock starts
    watched = {
        "ingest": [psutil.Process(proc.pid) for proc, _, _ in procs],
        "influxd": [psutil.Process(influx.proc.pid)] if influx.proc else [],
        "mosquitto": [psutil.Process(where.broker.proc.pid)] if where.broker.proc else [],
    }
    cpu_before = {name: _cpu(ps) for name, ps in watched.items()}
    machine_before = sum(psutil.cpu_times()[:3])
    began = time.perf_counter()
    go.set()
    total = per_publisher * publishers * 100
    wait_stored([port for _, port, _ in procs], total)
    elapsed = time.perf_counter() - began
    cpu = {name: _cpu(ps) - cpu_before[name] for name, ps in watched.items()}
    machine = sum(psutil.cpu_times()[:3]) - machine_before
    for p in pubs:
        p.join()
    for proc, _, _ in procs:
        proc.terminate()
        proc.wait()
    store = InfluxStore(httpx.Client(base_url=influx.url, timeout=120), db)
    stored = store.count_points()
    rate = total / elapsed
    print(
        f"(b) live stream [{mode}]: {total:,} readings in 100-reading messages, "
        f"{workers} worker(s), {publishers} publisher processes"
    )
    print(
        f"    shinshu ingest, end to end:                    {rate:10,.0f} readings/s "
        f"({stored:,} points stored)"
    )
    print(f"    ratio to ceiling: {rate / ceiling:.2f}; target >= 150,000 readings/s")
    per_million = ", ".join(f"{name} {sec / total * 1e6:.1f}" for name, sec in cpu.items())
    print(
        f"    CPU seconds per million readings: {per_million}; whole machine "
        f"{machine / total * 1e6:.1f} ({machine / elapsed:.2f} of {os.cpu_count()} cores busy)"
    )
    return rate


def _cpu(processes: list[psutil.Process]) -> float:
    """User + system CPU seconds of processes, children included."""
    total = 0.0
    for process in processes:
        times = process.cpu_times()
        total += times.user + times.system
    return total


def main() -> None:
    """Run both benchmarks on private services."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--stream-readings", type=int, default=3_000_000)
    # One worker per core: on two cores a single Python worker is CPU-bound near 125k/s.
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", choices=["a", "b"])
    parser.add_argument(
        "--modes", default=",".join(MODES), help=f"stream runs, from {', '.join(MODES)}"
    )
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        parser.error(f"unknown modes: {', '.join(unknown)}")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        (tmp / "backlog").mkdir()
        influx = LocalInfluxDB("influxd", tmp, free_port())
        influx.start()
        brokers: list[Access] = []
        try:
            print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
            rates: dict[tuple[str, str], float] = {}
            if args.only != "b":
                for mode in modes:
                    brokers.append(access(mode, tmp / "backlog"))
                    rates["a", mode] = backlog(brokers[-1], influx, args.backlog, tmp, mode=mode)
                    brokers[-1].broker.stop()
            if args.only != "a":
                ceiling = influx_ceiling(influx)
                print(
                    f"    InfluxDB ceiling, pre-built 5,000-line bodies: {ceiling:10,.0f} points/s"
                )
                for mode in modes:
                    brokers.append(access(mode, tmp))
                    rates["b", mode] = stream(
                        brokers[-1],
                        influx,
                        args.stream_readings,
                        args.workers,
                        tmp,
                        mode=mode,
                        ceiling=ceiling,
                    )
                    brokers[-1].broker.stop()
            for (part, mode), rate in rates.items():
                reference = rates.get((part, "password"))
                if mode != "password" and reference:
                    cost = 1 - rate / reference
                    print(
                        f"    ({part}) cost of {mode} against one shared password: {cost:+.1%}"
                        "  (target < 10%)"
                    )
        finally:
            for where in brokers:
                if where.accounts is not None:
                    where.accounts.registry.close()
                where.broker.stop()
            influx.stop()


if __name__ == "__main__":
    main()
