"""Helpers for tests against real Mosquitto and InfluxDB: running services, ingest processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ingest.stores.influx import InfluxStore
from shinshu.localservices import LocalInfluxDB, LocalMosquitto


@dataclass
class Services:
    """A running broker and database."""

    broker: LocalMosquitto
    influx: LocalInfluxDB


def make_influx(influx: LocalInfluxDB, database: str) -> InfluxStore:
    """A store client for `database` on `influx`."""
    return InfluxStore(httpx.Client(base_url=influx.url, timeout=10), database)


def count_points(store: InfluxStore) -> int:
    """All points of every measurement in the store's database."""
    return store.count_points()


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `check` until it holds or fail the test with `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def scrape(port: int) -> dict[str, float]:
    """A worker's Prometheus metrics as a flat dict (samples with labels keep them in the key)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


@dataclass
class ServiceProcess:
    """A long-running `shinshu` subcommand (ingest, alerts) as a real process."""

    env: dict[str, str]
    log: Path
    metrics_port: int
    command: str = "ingest"
    proc: subprocess.Popen[bytes] | None = field(default=None)

    def start(self) -> ServiceProcess:
        """Start the process and wait until it has subscribed."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "shinshu.cli", self.command],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._subscribed, 30, f"{self.command} to subscribe (log: {self.log})")
        return self

    def _subscribed(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.command} exited early:\n{self.log.read_text()}")
        try:
            return self.metrics().get(f"shinshu_{self.command}_subscribed") == 1.0
        except httpx.HTTPError:
            return False

    def metrics(self) -> dict[str, float]:
        """The process's current metrics."""
        return scrape(self.metrics_port)

    def kill(self) -> None:
        """SIGKILL: no chance to flush or acknowledge anything."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> int:
        """SIGTERM and wait; returns the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)

    def shut_down(self) -> None:
        """Teardown: SIGTERM, and SIGKILL if it lingers (reported, not hidden)."""
        try:
            self.stop()
        except subprocess.TimeoutExpired:
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait()
            warnings.warn(
                f"{self.command} did not stop within 30 s of SIGTERM; see {self.log}",
                stacklevel=1,
            )


Ingest = ServiceProcess


def service_env(services: Services, database: str, **extra: str) -> dict[str, str]:
    """The environment a `shinshu` process needs to use `services` and `database`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHINSHU_")}
    env.update(
        {
            "SHINSHU_MQTT_URL": services.broker.url,
            "SHINSHU_INFLUX_URL": services.influx.url,
            "SHINSHU_INFLUX_DB": database,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({f"SHINSHU_{k.upper()}": v for k, v in extra.items()})
    return env


IngestFactory = Callable[..., Ingest]
AlertsFactory = Callable[..., ServiceProcess]


def run_simulate(services: Services, database: str, *args: str, **extra: str) -> str:
    """Run `shinshu simulate` to completion and return its output."""
    result = subprocess.run(
        [sys.executable, "-m", "shinshu.cli", "simulate", *args],
        env=service_env(services, database, **extra),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout
