"""Private Mosquitto and InfluxDB instances in a scratch folder, for the demo and the tests."""

from __future__ import annotations

import contextlib
import getpass
import json
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from core.errors import ShinshuError
from edge.credentials import read_secret_file, write_secret_file
from edge.mqtt import MqttEndpoint
from identity.accounts import DEFAULT_SERVICE_USERNAMES, ServiceRole
from identity.broker_config import BrokerLayout, find_plugin, render
from identity.certs import make_broker_cert, make_ca
from identity.dynsec import DynsecControl
from identity.registry import Registry
from identity.service import AccountService, bootstrap


class ServiceError(ShinshuError, RuntimeError):
    """A local service could not be found, started or reached."""


def free_port() -> int:
    """Return a TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")


def influxd_installed() -> bool:
    """Whether an InfluxDB server can be started here (else the demo stores in SQLite)."""
    return _which("influxd") is not None


def require_binary(name: str, package: str) -> str:
    """Return the path of an executable or explain which Debian package provides it."""
    path = _which(name)
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

    def _port_open(self, port: int | None = None) -> bool:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port or self.port), timeout=0.2),
        ):
            return True
        return False


AccountFileHook = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class LocalMosquitto(LocalProcess):
    """A Mosquitto broker on loopback with the shipped configuration: accounts, persistence, TLS.

    Its accounts come from a registry in the same folder (`registry.sqlite3`, secrets in
    `secrets/`), exactly as `shinshu broker init` makes them on a server; restarting it keeps
    its sessions, queued messages and accounts.
    """

    tls_port: int = 0
    # Lets a test add accounts of its own to the first account file (never the demo).
    account_file_hook: AccountFileHook | None = None

    @property
    def registry_path(self) -> Path:
        """The account registry of this broker."""
        return self.folder / "registry.sqlite3"

    @property
    def secrets_path(self) -> Path:
        """Where the service accounts' secrets are."""
        return self.folder / "secrets"

    @property
    def certs_path(self) -> Path:
        """The private CA and the broker's certificate."""
        return self.folder / "certs"

    @property
    def ca_file(self) -> Path:
        """The CA that signed the broker's certificate."""
        return self.certs_path / "ca.crt"

    def _layout(self) -> BrokerLayout:
        return BrokerLayout(
            plain_host="127.0.0.1",
            plain_port=self.port,
            tls_host="127.0.0.1",
            tls_port=self.tls_port,
            plugin=find_plugin(),
            accounts_file=self.folder / "dynamic-security.json",
            persistence_dir=self.folder / "mosquitto-data",
            ca_file=self.ca_file,
            cert_file=self.certs_path / "broker.crt",
            key_file=self.certs_path / "broker.key",
            log_dest="stdout",
            # Running as root, Mosquitto would switch to `mosquitto`, which cannot write here.
            user=getpass.getuser(),
        )

    def command(self) -> list[str]:
        """Write the configuration (and, the first time, accounts and certificates)."""
        binary = require_binary("mosquitto", "mosquitto")
        if not self.tls_port:
            self.tls_port = free_port()
        layout = self._layout()
        layout.persistence_dir.mkdir(parents=True, exist_ok=True)
        if not layout.cert_file.exists():
            ca = make_ca(self.certs_path, "Shinshu IoT local CA")
            make_broker_cert(ca, self.certs_path, ("localhost", "127.0.0.1"))
        if not layout.accounts_file.exists():
            registry = Registry(self.registry_path)
            try:
                document = bootstrap(registry, self.secrets_path, actor="local broker")
            finally:
                registry.close()
            if self.account_file_hook is not None:
                document = self.account_file_hook(document)
            write_secret_file(layout.accounts_file, json.dumps(document, indent=1))
        conf = self.folder / "mosquitto.conf"
        conf.write_text(render(layout))
        return [binary, "-c", str(conf)]

    def ready(self) -> bool:
        """Whether the broker accepts TCP connections on both listeners."""
        return self._port_open() and self._port_open(self.tls_port)

    @property
    def url(self) -> str:
        """The plain listener's URL in the form the settings take (no credentials)."""
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        """The TLS listener's URL; the certificate is for `localhost`."""
        return f"mqtts://localhost:{self.tls_port}"

    def secret(self, username: str) -> str:
        """The secret of a service account made when the broker was first started."""
        return read_secret_file(self.secrets_path / f"{username}.secret")

    def endpoint(self, username: str, *, tls: bool = False) -> MqttEndpoint:
        """The broker as service account `username`."""
        endpoint = MqttEndpoint.from_url(self.tls_url if tls else self.url)
        endpoint = endpoint.with_login(username, self.secret(username))
        return endpoint.with_tls_files(self.ca_file) if tls else endpoint

    def control(self) -> DynsecControl:
        """The dynamic-security control client of this broker."""
        return DynsecControl(self.endpoint(DEFAULT_SERVICE_USERNAMES[ServiceRole.CONTROL]))

    def accounts(self) -> AccountService:
        """Registry and broker together: add, rotate and revoke accounts live."""
        return AccountService(Registry(self.registry_path), self.control())


@dataclass
class LocalInfluxDB(LocalProcess):
    """An InfluxDB 1.x server on loopback with its data in the scratch folder."""

    rpc_port: int = 0
    # With authentication on, as a production server runs (the first user must be an admin).
    auth: bool = False

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
  # As deploy/install.sh: a small in-memory cache keeps queries of recent points fast.
  cache-snapshot-memory-size = "1m"
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
  auth-enabled = {"true" if self.auth else "false"}
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


def start_broker(folder: Path, account_file_hook: AccountFileHook | None = None) -> LocalMosquitto:
    """Start a broker (with accounts, persistence and TLS) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    broker = LocalMosquitto(
        "mosquitto", folder, free_port(), tls_port=free_port(), account_file_hook=account_file_hook
    )
    broker.start()
    return broker


def start_pair(
    folder: Path, account_file_hook: AccountFileHook | None = None
) -> tuple[LocalMosquitto, LocalInfluxDB]:
    """Start a broker (with accounts, persistence and TLS) and a database in `folder`."""
    broker = start_broker(folder, account_file_hook)
    influx = LocalInfluxDB("influxd", folder, free_port())
    try:
        influx.start()
    except ServiceError:
        broker.stop()
        raise
    return broker, influx
