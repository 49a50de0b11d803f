"""Live simulation with faults: real agents -> Mosquitto -> `shinshu ingest` -> InfluxDB.

A factory and a farm run for 8 simulated hours at x1800 through the real edge agent, with a
network outage, an agent reboot, a clock skew and malformed messages. What is stored must be
exactly the scenario's readings (timestamps shifted where the clock was skewed, none while the
device was rebooting); the garbage must reach the dead-letter topic; faults.csv lists it all.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from support import IngestFactory, Services, count_points, make_influx, service_env, wait_until

from edge.mqtt import connect, make_client
from edge.protocol import Channel, DeviceTopic
from simulators.scenario import Scenario, SiteData, Truth, simulate_sites

pytestmark = pytest.mark.integration

TENANT = "t-live"
FACTORY, FARM = "suwa-precision", "kawakami-01"
HOUR_MS = 3_600_000
STEP_MS = 600_000
SCHEDULE = f"""
[[faults]]
site = "{FACTORY}"
kind = "malformed"
start = "+30m"
payload = "not_json"

[[faults]]
site = "{FACTORY}"
kind = "outage"
start = "+1h"
duration = "90m"

[[faults]]
site = "{FARM}"
kind = "clock_skew"
start = "+2h"
duration = "2h"
offset_s = -905

[[faults]]
site = "{FACTORY}"
kind = "reboot"
start = "+4h"
duration = "90m"

[[faults]]
site = "{FARM}"
kind = "malformed"
start = "+5h"
payload = "truncated"

[[faults]]
site = "{FARM}"
kind = "outage"
start = "+6h"
duration = "40m"
"""


class Inbox:
    """Collects the tenant's dead letters."""

    def __init__(self, services: Services) -> None:
        """Subscribe before anything is published."""
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        endpoint = services.endpoint()
        self.client = make_client(endpoint, f"live-dlq-{time.monotonic_ns()}")
        self.client.on_message = self._on_message
        connect(self.client, endpoint)
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_args: subscribed.set()
        self.client.subscribe(f"shinshu/deadletter/{TENANT}", qos=1)
        assert subscribed.wait(5)

    def _on_message(self, _c: paho.Client, _u: object, message: paho.MQTTMessage) -> None:
        """Keep the dead-letter record."""
        with self._lock:
            self.records.append(json.loads(message.payload))

    def topics(self) -> list[str]:
        """The source topic of every dead letter."""
        with self._lock:
            return sorted(record["source_topic"] for record in self.records)

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


def read_faults(path: Path) -> list[dict[str, str]]:
    """Rows of faults.csv."""
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def expected_points(site: SiteData, faults: list[dict[str, str]]) -> dict[str, list[list[Any]]]:
    """Per sensor, the (time, value) pairs the store must hold given the recorded faults."""
    mine = [f for f in faults if f["site"] == site.site]
    down = [(int(f["start_ms"]), int(f["end_ms"])) for f in mine if f["kind"] == "reboot"]
    skews = [
        (int(f["start_ms"]), int(f["end_ms"]), round(float(f["detail"].split("=")[1]) * 1000))
        for f in mine
        if f["kind"] == "clock_skew"
    ]
    out = {}
    for series in site.series:
        points = []
        for t, v in zip(series.ts_ms.tolist(), series.values.tolist(), strict=True):
            if any(a <= t < b for a, b in down):
                continue
            shift = sum(off for a, b, off in skews if a <= t < b)
            points.append([t + shift, v])
        out[series.sensor] = sorted(points)
    return out


def test_live_run_with_faults_stores_exactly_the_scenario(
    services: Services, database: str, ingest_factory: IngestFactory, tmp_path: Path
) -> None:
    """Outage, reboot, skew, garbage: every scenario reading stored once, truth lists faults."""
    ingest_factory(services, database)
    inbox = Inbox(services)
    schedule = tmp_path / "faults.toml"
    schedule.write_text(SCHEDULE)
    first_day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    args = [
        *("--factories", "1", "--farms", "1", "--forests", "0"),
        *("--accel", "1800", "--duration", "8h", "--step-minutes", "10", "--seed", "5"),
        *("--start", first_day.isoformat(), "--faults", str(schedule)),
        *("--truth-dir", str(tmp_path / "truth")),
    ]
    env = service_env(
        services, database, control=True, tenant=TENANT, data_dir=str(tmp_path / "data")
    )
    result = subprocess.run(
        [sys.executable, "-m", "shinshu.cli", "simulate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "undelivered: 0" in result.stdout
    assert "%" in result.stdout  # progress lines

    start_ms = int(dt.datetime.combine(first_day, dt.time(), dt.UTC).timestamp() * 1000)
    scenario = Scenario(1, 0, 1, start_ms, 8 * HOUR_MS, STEP_MS, seed=5)
    sites = list(simulate_sites(scenario, Truth()))
    faults = read_faults(tmp_path / "truth" / "faults.csv")

    # Ground truth: every injected fault with its kind, where and when it took effect.
    kinds = sorted((f["site"], f["kind"]) for f in faults)
    assert kinds == sorted(
        [
            (FACTORY, "malformed"),
            (FACTORY, "outage"),
            (FARM, "clock_skew"),
            (FACTORY, "reboot"),
            (FARM, "malformed"),
            (FARM, "outage"),
        ]
    )
    scheduled = {
        (FACTORY, "malformed"): (0.5, 0.5),
        (FACTORY, "outage"): (1, 2.5),
        (FARM, "clock_skew"): (2, 4),
        (FACTORY, "reboot"): (4, 5.5),
        (FARM, "malformed"): (5, 5),
        (FARM, "outage"): (6, 6 + 40 / 60),
    }
    for row in faults:
        assert row["tenant"] == TENANT
        assert row["device"] in {"stock-gateway", "lettuce-a"}
        begin, end = scheduled[row["site"], row["kind"]]
        # Applied when simulated time got there: within a few simulated minutes (0.1 s real).
        assert abs(int(row["start_ms"]) - (start_ms + begin * HOUR_MS)) <= 15 * 60_000, row
        assert abs(int(row["end_ms"]) - (start_ms + end * HOUR_MS)) <= 15 * 60_000, row
    (reboot,) = [f for f in faults if f["kind"] == "reboot"]
    assert int(reboot["start_ms"]) == start_ms + 4 * HOUR_MS

    # The store holds exactly the scenario's readings: nothing lost in the outage or reboot.
    store = make_influx(services.influx, database)
    wanted = {site.site: expected_points(site, faults) for site in sites}
    total = sum(len(p) for per_site in wanted.values() for p in per_site.values())
    assert total > 700
    wait_until(lambda: count_points(store) >= total, 60, f"{total} points")
    time.sleep(1.0)
    assert count_points(store) == total
    for site in sites:
        for series in site.series:
            where = f"\"site\" = '{site.site}' AND \"sensor\" = '{series.sensor}'"
            rows = store.query(f'SELECT "value" FROM "{series.kind.value}" WHERE {where}')
            stored = [[int(t), v] for t, v in rows[0]["series"][0]["values"]]
            assert stored == wanted[site.site][series.sensor], (site.site, series.sensor)
    # The reboot left a gap: the device took no readings while it was down.
    factory = next(site for site in sites if site.site == FACTORY)
    assert len(wanted[FACTORY][factory.series[0].sensor]) < len(factory.series[0].ts_ms)

    # Both malformed messages were dead-lettered, from the devices' own up topics.
    topics = [
        DeviceTopic(TENANT, site, device).topic(Channel.UP)
        for site, device in ((FACTORY, "stock-gateway"), (FARM, "lettuce-a"))
    ]
    wait_until(lambda: len(inbox.topics()) >= 2, 20, "two dead letters")
    assert inbox.topics() == sorted(topics)
    inbox.close()


def test_live_run_stops_cleanly_on_sigterm(
    services: Services, database: str, tmp_path: Path
) -> None:
    """SIGTERM mid-run: progress was shown, the command exits 130 promptly and writes truth."""
    env = service_env(
        services, database, control=True, tenant="t-live-stop", data_dir=str(tmp_path / "data")
    )
    args = ["--factories", "1", "--farms", "0", "--forests", "0", "--accel", "600"]
    args += ["--duration", "7d", "--truth-dir", str(tmp_path / "truth")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "shinshu.cli", "simulate", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "readings taken" in line and "0 readings taken" not in line:
            break
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, "".join(lines) + output
    assert (tmp_path / "truth" / "faults.csv").exists()
