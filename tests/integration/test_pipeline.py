"""End to end: `shinshu simulate` -> Mosquitto -> `shinshu ingest` -> InfluxDB, real processes."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from support import (
    IngestFactory,
    Services,
    count_points,
    make_influx,
    service_env,
    wait_until,
)

from simulators.fleet import device_kind, device_name, simple_readings
from storage.influx.client import InfluxStore

pytestmark = pytest.mark.integration

DEVICES = 5
READINGS = 2_000
TOTAL = DEVICES * READINGS


def assert_exactly_the_simulated_points(store: InfluxStore, tenant: str, site: str) -> None:
    """Every device's points carry the right tags and equal the readings the fleet generated."""
    assert count_points(store) == TOTAL
    for index in range(DEVICES):
        kind = device_kind(index)
        where = f"\"device\" = '{device_name(index)}'"
        results = store.query(f'SELECT "value" FROM "{kind.value}" WHERE {where} GROUP BY *')
        (series,) = results[0]["series"]
        assert series["tags"] == {
            "device": device_name(index),
            "sensor": kind.value,
            "site": site,
            "tenant": tenant,
        }
        stored = [(int(t), v) for t, v in series["values"]]
        start_ms = stored[0][0]
        expected = simple_readings(index, READINGS, start_ms, 1_000, seed=1)
        assert stored == [(r.ts_ms, r.value) for r in expected]


def start_simulate(
    services: Services, database: str, *args: str, **extra: str
) -> subprocess.Popen[str]:
    """`shinshu simulate` in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "shinshu.cli", "simulate", *args],
        env=service_env(services, database, control=True, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def start_fleet_and_wait_for_points(
    services: Services, database: str, store: InfluxStore, *, rate: str, tenant: str
) -> subprocess.Popen[str]:
    """Start the standard fleet (5 x 2,000 readings) at `rate` and wait for its first points."""
    proc = start_simulate(
        services,
        database,
        "--devices",
        "5",
        "--readings",
        "2000",
        "--rate",
        rate,
        tenant=tenant,
        site="s",
    )
    wait_until(lambda: count_points(store) > 0, 30, "the first points")
    return proc


def finish(proc: subprocess.Popen[str]) -> str:
    """Wait for a background command and insist it succeeded."""
    output, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, output
    return output


def wait_for_total(store: InfluxStore, timeout: float = 90) -> None:
    """Wait until all points arrived, then make sure no more come."""
    wait_until(lambda: count_points(store) >= TOTAL, timeout, f"{TOTAL} points")
    time.sleep(1.5)
    assert count_points(store) == TOTAL


def test_simulated_fleet_is_stored_exactly_once(
    services: Services, database: str, ingest_factory: IngestFactory
) -> None:
    """5 devices x 2,000 readings end up as exactly 10,000 points with tags, values and times."""
    ingest_factory(services, database)
    tenant, site = "shinshu-test", "川上村"
    proc = start_simulate(
        services, database, "--devices", "5", "--readings", "2000", tenant=tenant, site=site
    )
    output = finish(proc)
    assert "published 10000 readings" in output
    store = make_influx(services.influx, database)
    wait_for_total(store)
    assert_exactly_the_simulated_points(store, tenant, site)


def test_ingest_killed_mid_stream_loses_nothing(
    services: Services, database: str, ingest_factory: IngestFactory
) -> None:
    """kill -9, later SIGTERM, of the worker in mid-stream, then restarts: exactly 10,000 points."""
    worker = ingest_factory(services, database)
    store = make_influx(services.influx, database)
    proc = start_fleet_and_wait_for_points(services, database, store, rate="5", tenant="t-kill")
    worker.kill()
    stored_at_kill = count_points(store)
    assert 0 < stored_at_kill < TOTAL
    time.sleep(1.0)
    worker.start()
    # A clean stop in mid-stream as well: it exits 0 and the next session goes on.
    wait_until(lambda: count_points(store) > stored_at_kill, 30, "more points")
    assert worker.stop() == 0
    assert count_points(store) < TOTAL
    worker.start()
    finish(proc)
    wait_for_total(store)
    assert_exactly_the_simulated_points(store, "t-kill", "s")


def test_store_outage_holds_backlog_in_broker_with_bounded_memory(
    own_services: Services, database: str, ingest_factory: IngestFactory
) -> None:
    """InfluxDB down for 30 s in mid-stream: exactly 10,000 points, worker memory stays bounded."""
    services = own_services
    receive_maximum = 20
    worker = ingest_factory(
        services, database, ingest_receive_maximum=str(receive_maximum), ingest_retry_max_s="2"
    )
    store = make_influx(services.influx, database)
    proc = start_fleet_and_wait_for_points(services, database, store, rate="0.5", tenant="t-outage")
    assert worker.proc is not None
    process = psutil.Process(worker.proc.pid)
    services.influx.stop()
    rss_start = process.memory_info().rss
    rss_peak, unacked_peak = rss_start, 0.0
    outage_end = time.monotonic() + 30
    while time.monotonic() < outage_end:
        rss_peak = max(rss_peak, process.memory_info().rss)
        unacked_peak = max(unacked_peak, worker.metrics()["shinshu_ingest_unacked_messages"])
        time.sleep(0.5)
    metrics = worker.metrics()
    assert metrics["shinshu_ingest_store_up"] == 0.0
    assert metrics["shinshu_ingest_store_retries_total"] > 0
    assert unacked_peak == receive_maximum  # the worker filled its window and then waited
    assert rss_peak - rss_start < 20 * 2**20, (
        f"RSS grew by {(rss_peak - rss_start) / 2**20:.1f} MiB"
    )
    services.influx.start()
    finish(proc)
    wait_for_total(store)
    assert_exactly_the_simulated_points(store, "t-outage", "s")
    assert worker.proc.poll() is None


@pytest.mark.parametrize("store", ["influxdb", "sqlite"])
def test_demo_runs_the_whole_platform_and_stops_cleanly(tmp_path: Path, store: str) -> None:
    """`shinshu demo`: its web UI and API answer with the printed key, the scheduled theft
    becomes an alert, readings are stored, and it exits 0 leaving no port open; on InfluxDB,
    and on SQLite when the settings name a SQLite file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHINSHU_")}
    env["SHINSHU_DATA_DIR"] = str(tmp_path)
    sqlite_file = tmp_path / "store.sqlite3"
    if store == "sqlite":
        env["SHINSHU_STORE"] = f"sqlite://{sqlite_file}"
    env["PYTHONUNBUFFERED"] = "1"
    command = [sys.executable, "-m", "shinshu.cli", "demo", "--duration", "35", "--port", "0"]
    # x600: the theft comes 12 s into the live day.
    proc = subprocess.Popen(
        [*command, "--accel", "600", "--history-days", "8"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line)
        if "viewer " in line and "_" in line:
            break
    output = "".join(lines)
    url = re.search(r"web UI\s+(http://127\.0\.0\.1:\d+)/", output)
    token = re.search(r"viewer\s+(\S+)", output)
    assert url and token, output
    headers = {"X-API-Key": token.group(1)}
    api = f"{url.group(1)}/api/v1/tenants/demo"
    assert "<html" in httpx.get(url.group(1) + "/", timeout=10).text.lower()
    sites = httpx.get(f"{api}/sites", headers=headers, timeout=10).json()
    assert len(sites) == 3, sites

    def theft_alert() -> bool:
        found = httpx.get(f"{api}/alerts", headers=headers, timeout=10).json()
        return any(a["kind"] == "drop" for a in found)

    wait_until(theft_alert, 30, "the demo's theft as an alert")
    # Read on through the same text stream (communicate() would skip what it buffered).
    output += proc.stdout.read()
    proc.wait(timeout=60)
    assert proc.returncode == 0, output
    stored = [int(line.split()[0]) for line in output.splitlines() if "stored so far" in line]
    assert stored and stored[-1] > 0 and stored == sorted(stored), output
    # How to look at the stored readings: InfluxDB's HTTP API, or the SQLite file.
    assert ("curl -G" if store == "influxdb" else "sqlite3 -readonly") in output
    # Its private broker, database and web server stopped with it.
    ports = re.findall(r"127\.0\.0\.1:(\d+)", output)
    assert ports
    assert ("SHINSHU_STORE names SQLite" in output) is (store == "sqlite"), output
    assert sqlite_file.exists() is (store == "sqlite")
    for port in set(ports):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", int(port))) != 0, f"port {port} still open"
