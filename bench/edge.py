"""Edge agent benchmark: `python bench/edge.py` (a local Mosquitto is started in a temp folder).

Runs the real agent (`python -m edge.cli`) as a process with one simulated sensor and measures:

- at 10 and at 1,000 readings/s: peak resident memory, CPU seconds per 1,000 readings, and the
  share of one core it used;
- drain: one hour of readings at 10/s (36,000) spooled while offline, then the time from the
  agent's start until the broker has received all of them.

Targets: RSS <= 40 MB; <= 1 % of one core at 10 readings/s; the hour drained in <= 10 s.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# Run as a script, this file would shadow the `edge` package it measures.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import psutil  # noqa: E402

from edge.mqtt import MqttEndpoint, close_client, connect, make_client, subscribe  # noqa: E402
from edge.protocol import Reading, SensorKind  # noqa: E402
from edge.spool import SYNCED_FRAME, Spool  # noqa: E402
from shinshu.localservices import LocalMosquitto, free_port  # noqa: E402

DEVICE = "bench-pi"
TOPIC = f"shinshu/v1/bench/site/{DEVICE}/up"


class Counter:
    """Counts readings arriving on the agent's uplink topic, per sensor."""

    def __init__(self, url: str) -> None:
        """Subscribe before the agent starts."""
        self.counts: dict[str, int] = {}
        self.first_at: float | None = None
        self._lock = threading.Lock()
        endpoint = MqttEndpoint.from_url(url)
        self._client = make_client(endpoint, "bench-counter")
        connect(self._client, endpoint)
        subscribe(self._client, TOPIC, self._on_message)
        time.sleep(0.2)

    def _on_message(self, _topic: str, payload: bytes) -> None:
        """Count the readings of one batch."""
        readings = json.loads(payload)["readings"]
        with self._lock:
            if self.first_at is None:
                self.first_at = time.monotonic()
            for item in readings:
                sensor = item.get("s", item["k"])
                self.counts[sensor] = self.counts.get(sensor, 0) + 1

    def count(self, sensor: str) -> int:
        """Readings received from `sensor` so far."""
        with self._lock:
            return self.counts.get(sensor, 0)

    def close(self) -> None:
        """Disconnect."""
        close_client(self._client)


def write_config(folder: Path, url: str, interval_s: float) -> Path:
    """An agent configuration with one simulated sensor named `live`."""
    path = folder / "agent.toml"
    path.write_text(
        f'device = "{DEVICE}"\ntenant = "bench"\nsite = "site"\nmqtt_url = "{url}"\n'
        f'data_dir = "{folder / "data"}"\nlog_level = "WARNING"\n'
        f'[[sensors]]\nname = "live"\ndriver = "simulated"\nkind = "air_temperature"\n'
        f"interval_s = {interval_s}\n"
    )
    return path


def start_agent(config: Path) -> subprocess.Popen[bytes]:
    """The agent as a process."""
    return subprocess.Popen([sys.executable, "-m", "edge.cli", "--config", str(config)])


def steady(url: str, folder: Path, rate: float, seconds: float) -> None:
    """Sample at `rate` readings/s for `seconds` after a warm-up; print memory and CPU."""
    folder.mkdir()
    counter = Counter(url)
    proc = start_agent(write_config(folder, url, 1.0 / rate))
    process = psutil.Process(proc.pid)
    time.sleep(3.0)
    cpu0 = sum(process.cpu_times()[:2])
    count0, wall0 = counter.count("live"), time.monotonic()
    rss_peak = 0
    while time.monotonic() - wall0 < seconds:
        rss_peak = max(rss_peak, process.memory_info().rss)
        time.sleep(0.5)
    cpu = sum(process.cpu_times()[:2]) - cpu0
    wall = time.monotonic() - wall0
    readings = counter.count("live") - count0
    proc.terminate()
    proc.wait(30)
    counter.close()
    print(
        f"{rate:>7.0f} readings/s: RSS {rss_peak / 2**20:5.1f} MB, "
        f"{cpu / max(readings, 1) * 1000:6.3f} CPU s per 1,000 readings, "
        f"{cpu / wall * 100:5.2f} % of one core ({readings} readings published in {wall:.0f} s)",
        flush=True,
    )


def drain(url: str, folder: Path, backlog: int) -> None:
    """Spool `backlog` readings as if offline for an hour, then time the catch-up."""
    folder.mkdir()
    spool = Spool(folder / "data" / "spool.sqlite3")
    start_ms = int(time.time() * 1000) - backlog * 100
    rows = [
        Reading("backlog", SensorKind.AIR_TEMPERATURE, start_ms + i * 100, 10.0 + i % 7)
        for i in range(backlog)
    ]
    for at in range(0, backlog, 1000):
        spool.append(rows[at : at + 1000], SYNCED_FRAME)
    spool.close()
    counter = Counter(url)
    started = time.monotonic()
    proc = start_agent(write_config(folder, url, 0.1))
    process = psutil.Process(proc.pid)
    rss_peak = 0
    while counter.count("backlog") < backlog and time.monotonic() - started < 120:
        rss_peak = max(rss_peak, process.memory_info().rss)
        time.sleep(0.05)
    done = time.monotonic()
    proc.terminate()
    proc.wait(30)
    counter.close()
    first = counter.first_at or done
    print(
        f"drain: {counter.count('backlog')} of {backlog} spooled readings at the broker "
        f"{done - started:.1f} s after the agent started ({done - first:.1f} s after its first "
        f"message); RSS {rss_peak / 2**20:.1f} MB",
        flush=True,
    )


def main() -> None:
    """Start a broker, run the three measurements, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured time per rate")
    parser.add_argument("--backlog", type=int, default=36_000, help="readings to drain")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        broker = LocalMosquitto("mosquitto", folder, free_port())
        broker.start()
        try:
            steady(broker.url, folder / "r10", 10.0, args.seconds)
            steady(broker.url, folder / "r1000", 1000.0, args.seconds)
            drain(broker.url, folder / "drain", args.backlog)
        finally:
            broker.stop()


if __name__ == "__main__":
    main()
