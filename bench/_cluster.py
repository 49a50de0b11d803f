"""Readings/s on the three-node RabbitMQ cluster beside one Mosquitto, in one run.

Both runs do the same work: four publisher processes (one device account each, MQTT QoS 1,
payloads encoded before the clock starts) send 100-reading messages while two `shinshu ingest`
workers store them in one InfluxDB; the time is taken from the first publish until the workers
report every reading stored. On Mosquitto the workers share a `$share` group on the shipped
broker configuration (dynamic-security accounts, no TLS); on RabbitMQ the devices spread over
the three nodes' MQTT ports, devices and workers are authenticated by the HTTP backend against
the device registry, and the workers consume the replicated quorum queue over AMQP 0-9-1,
acknowledging only after InfluxDB answered.

Usage: python bench/cluster.py [--readings 2000000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench._ingest import (
    T0_MS,
    access,
    influx_ceiling,
    payloads,
    publish_through,
    stored_metric,
    stream,
    wait_stored,
)
from edge.credentials import write_secret_file
from edge.mqtt import MqttEndpoint, Publisher, connect, make_client
from edge.protocol import Channel, DeviceTopic
from identity.accounts import ServiceRole
from identity.auth_http import AuthServer
from identity.rabbit_auth import RabbitAuth
from identity.registry import Registry
from identity.service import AccountService
from shinshu.localservices import LocalInfluxDB, free_port
from shinshu.rabbitcluster import RabbitCluster, start_cluster

TENANT, SITE = "bench", "cluster"
PUBLISHERS = 4
WORKERS = 2


def _rabbit_publisher(
    port: int, client_id: str, secret: str, device: str, messages: int, *, ready: Any, go: Any
) -> None:
    """One device on one node: its batches at QoS 1, each window of PUBACKs awaited."""
    bodies = payloads(device, messages, 100, T0_MS)
    endpoint = MqttEndpoint("127.0.0.1", port, username=client_id).with_login(client_id, secret)
    client = make_client(endpoint, client_id, protocol="3.1.1")
    publisher = Publisher(client, window=2_000)
    connect(client, endpoint)
    ready.release()
    go.wait()
    publish_through(client, publisher, DeviceTopic(TENANT, SITE, device).topic(Channel.UP), bodies)


def _rabbit_worker(
    cluster: RabbitCluster, accounts: AccountService, influx: LocalInfluxDB, tmp: Path, index: int
) -> tuple[subprocess.Popen[bytes], int]:
    """A `shinshu ingest` worker on the quorum queue with its own account: process, metrics."""
    username = f"bench-ingest-{index}"
    issued = accounts.add_service(ServiceRole.INGEST, username, actor="bench")
    secret = write_secret_file(tmp / f"{username}.secret", issued.secret)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHINSHU_")}
    env.update(
        {
            "SHINSHU_INGEST_SOURCE": "amqp",
            "SHINSHU_AMQP_URL": cluster.amqp_url,
            "SHINSHU_AMQP_USERNAME": username,
            "SHINSHU_AMQP_PASSWORD_FILE": str(secret),
            "SHINSHU_INGEST_CLIENT_ID": username,
            "SHINSHU_INGEST_METRICS_PORT": str(port),
            "SHINSHU_INFLUX_URL": influx.url,
            "SHINSHU_INFLUX_DB": "bench_cluster",
            "SHINSHU_DATA_DIR": str(tmp / username),
            "SHINSHU_LOG_LEVEL": "WARNING",
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "shinshu.cli", "ingest"],
        env=env,
        stdout=(tmp / f"{username}.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if stored_metric(port, "shinshu_ingest_subscribed") == 1.0:
                return proc, port
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"ingest worker {index} did not start; see {tmp / username}.log")


def rabbit_stream(influx: LocalInfluxDB, readings: int, tmp: Path) -> float:
    """Readings/s through the cluster: publishers on every node, workers on the quorum queue."""
    registry = Registry(tmp / "registry.sqlite3")
    auth = AuthServer(RabbitAuth(registry))
    auth.start()
    cluster = start_cluster(tmp / "cluster", auth.url)
    accounts = AccountService(registry, None)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        devices = [f"dev{i}" for i in range(PUBLISHERS)]
        issued = accounts.issue_devices([(TENANT, SITE, d) for d in devices], actor="bench")
        started = [_rabbit_worker(cluster, accounts, influx, tmp, i) for i in range(WORKERS)]
        workers = [proc for proc, _ in started]
        per_publisher = readings // PUBLISHERS // 100
        ctx = multiprocessing.get_context("spawn")
        ready, go = ctx.Semaphore(0), ctx.Event()
        pubs = []
        for i, device in enumerate(devices):
            port = cluster.nodes[i % len(cluster.nodes)].mqtt_port
            client_id = accounts.device(TENANT, SITE, device).client_id
            secret = issued[(TENANT, SITE, device)].secret
            pubs.append(
                ctx.Process(
                    target=_rabbit_publisher,
                    args=(port, client_id, secret, device, per_publisher),
                    kwargs={"ready": ready, "go": go},
                )
            )
        for p in pubs:
            p.start()
        for _ in pubs:
            if not ready.acquire(timeout=120):
                raise RuntimeError("a publisher did not connect to its node")
        began = time.perf_counter()
        go.set()
        total = per_publisher * PUBLISHERS * 100
        wait_stored([port for _, port in started], total)
        elapsed = time.perf_counter() - began
        for p in pubs:
            p.join()
        rate = total / elapsed
        print(
            f"RabbitMQ, 3 nodes: {total:,} readings in 100-reading messages, {WORKERS} workers "
            f"on the quorum queue, {PUBLISHERS} publishers over the nodes: {rate:,.0f} readings/s"
        )
        return rate
    finally:
        for proc in workers:
            proc.terminate()
            proc.wait()
        cluster.stop()
        auth.stop()
        registry.close()


def main() -> None:
    """Run Mosquitto, then the cluster, and print both rates and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=2_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        influx = LocalInfluxDB("influxd", tmp, free_port())
        influx.start()
        try:
            ceiling = influx_ceiling(influx)
            where = access("auth", tmp)
            try:
                mosquitto = stream(
                    where, influx, args.readings, WORKERS, tmp, mode="auth", ceiling=ceiling
                )
            finally:
                where.broker.stop()
            rabbit = rabbit_stream(influx, args.readings, tmp)
        finally:
            influx.stop()
    print(f"Mosquitto (one broker): {mosquitto:,.0f} readings/s")
    print(f"RabbitMQ (three nodes): {rabbit:,.0f} readings/s ({rabbit / mosquitto:.2f} of it)")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
