"""Private Mosquitto and InfluxDB instances in a scratch folder, for the demo and the tests."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx


class ServiceError(RuntimeError):
    """A local service could not be found, started or reached."""


def free_port() -> int:
    """Return a TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_binary(name: str, package: str) -> str:
    """Return the path of an executable or explain which Debian package provides it."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if path is None:
        raise ServiceError(f"{name} is not installed: run `sudo apt-get install {package}`")
    return path


def _wait_for(
    check: Callable[[], bool], what: str, timeout: float, proc: subprocess.Popen[bytes]
) -> None:
    """Poll `check` until it is true; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceError(f"{what} exited with status {proc.returncode} while starting")
        if check():
            return
        time.sleep(0.05)
    raise ServiceError(f"{what} did not answer within {timeout:.0f} s")


@dataclass
class LocalProcess:
    """A server process with a fixed port and data folder that can be stopped and started again."""

    name: str
    folder: Path
    port: int
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def command(self) -> list[str]:
        """The command line that starts the server."""
        raise NotImplementedError

    def ready(self) -> bool:
        """Whether the server answers on its port."""
        raise NotImplementedError

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait until it answers."""
        if self.proc is not None and self.proc.poll() is None:
            return
        log = (self.folder / f"{self.name}.log").open("ab")
        self.proc = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        log.close()
        _wait_for(self.ready, self.name, timeout, self.proc)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait for it to exit."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def _port_open(self) -> bool:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
        ):
            return True
        return False


@dataclass
class LocalMosquitto(LocalProcess):
    """A Mosquitto broker on loopback, anonymous, persistent sessions kept without limits."""

    def command(self) -> list[str]:
        """Write the configuration and return the command line."""
        binary = require_binary("mosquitto", "mosquitto")
        conf = self.folder / "mosquitto.conf"
        conf.write_text(
            "\n".join(
                [
                    f"listener {self.port} 127.0.0.1",
                    "allow_anonymous true",
                    # An ingest session may hold a large backlog while the store is down.
                    "max_queued_messages 0",
                    "max_queued_bytes 0",
                    "max_inflight_messages 1000",
                    "persistence false",
                    "log_dest stdout",
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    "",
                ]
            )
        )
        return [binary, "-c", str(conf)]

    def ready(self) -> bool:
        """Whether the broker accepts TCP connections."""
        return self._port_open()

    @property
    def url(self) -> str:
        """The broker's URL in the form the settings take."""
        return f"mqtt://127.0.0.1:{self.port}"


@dataclass
class LocalInfluxDB(LocalProcess):
    """An InfluxDB 1.x server on loopback with its data in the scratch folder."""

    rpc_port: int = 0

    def command(self) -> list[str]:
        """Write the configuration and return the command line."""
        binary = require_binary("influxd", "influxdb")
        if not self.rpc_port:
            self.rpc_port = free_port()
        conf = self.folder / "influxdb.conf"
        data = self.folder / "influxdb"
        conf.write_text(
            f"""reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{data}/meta"
[data]
  dir = "{data}/data"
  wal-dir = "{data}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
[logging]
  level = "warn"
  suppress-logo = true
"""
        )
        return [binary, "-config", str(conf)]

    def ready(self) -> bool:
        """Whether /ping answers."""
        try:
            return httpx.get(f"{self.url}/ping", timeout=0.5).status_code == 204
        except httpx.HTTPError:
            return False

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"


def start_pair(folder: Path) -> tuple[LocalMosquitto, LocalInfluxDB]:
    """Start a broker and a database in `folder` on free ports."""
    folder.mkdir(parents=True, exist_ok=True)
    broker = LocalMosquitto("mosquitto", folder, free_port())
    influx = LocalInfluxDB("influxd", folder, free_port())
    broker.start()
    try:
        influx.start()
    except ServiceError:
        broker.stop()
        raise
    return broker, influx
