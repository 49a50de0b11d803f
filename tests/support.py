"""Test helpers: real Mosquitto and InfluxDB, ingest processes, dead letters, generated poison."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
from hypothesis import strategies as st

from edge.credentials import write_secret_file
from edge.mqtt import MqttEndpoint, connect, make_client
from edge.protocol import SensorKind
from identity.accounts import DEFAULT_SERVICE_USERNAMES, ServiceRole
from identity.registry import AccountExistsError
from identity.secrets import hash_secret, new_secret
from identity.service import AccountService
from shinshu.localservices import LocalInfluxDB, LocalMosquitto, start_pair
from storage.influx.client import InfluxStore

CONTROL_SECRET = f"{DEFAULT_SERVICE_USERNAMES[ServiceRole.CONTROL]}.secret"


# The test harness's own broker account: it may publish and read anything under shinshu/,
# as an attacker-free test bench must (raw bad input, watching dead letters). It exists only in
# brokers that tests start; the demo and a server never have it.
HARNESS_USER = "test-harness"


def harness_hook(secret: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Adds the harness account to a broker's first account file."""

    def hook(document: dict[str, Any]) -> dict[str, Any]:
        hashed = hash_secret(secret)
        document["clients"].append(
            {
                "username": HARNESS_USER,
                "password": hashed.hash_b64,
                "salt": hashed.salt_b64,
                "iterations": hashed.iterations,
                "roles": [{"rolename": "test:harness"}],
            }
        )
        acls = [
            {"acltype": "publishClientSend", "topic": "shinshu/#", "allow": True},
            {"acltype": "subscribePattern", "topic": "shinshu/#", "allow": True},
        ]
        document["roles"].append({"rolename": "test:harness", "acls": acls})
        return document

    return hook


@dataclass
class Services:
    """A running broker and database, and the harness's account on the broker."""

    broker: LocalMosquitto
    influx: LocalInfluxDB
    harness_secret: str = field(default="", repr=False)
    _accounts: AccountService | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The broker's URL with the harness account in it (test clients only)."""
        return f"mqtt://{HARNESS_USER}:{self.harness_secret}@127.0.0.1:{self.broker.port}"

    def endpoint(self) -> MqttEndpoint:
        """The broker as the harness account."""
        return MqttEndpoint.from_url(self.url)

    @property
    def accounts(self) -> AccountService:
        """Registry and broker control of this broker."""
        if self._accounts is None:
            self._accounts = self.broker.accounts()
        return self._accounts

    def service_account(self, role: ServiceRole, username: str, folder: Path) -> Path:
        """A new service account (client ids belong to accounts); the file with its secret."""
        try:
            issued = self.accounts.add_service(role, username, actor="tests")
        except AccountExistsError:
            # The same worker started again (a restart test): a fresh secret for it.
            issued = self.accounts.rotate(username, actor="tests")
        return write_secret_file(folder / f"{username}.secret", issued.secret)

    def device_account(self, tenant: str, site: str, device: str, folder: Path) -> Path:
        """A registered device (registered anew if it was); the file with its secret."""
        issued = self.accounts.issue_devices([(tenant, site, device)], actor="tests")
        secret = issued[tenant, site, device].secret
        return write_secret_file(folder / f"{tenant}-{site}-{device}.secret", secret)


def start_services(folder: Path) -> Services:
    """A broker (with the harness account) and a database in `folder`."""
    secret = new_secret()
    broker, influx = start_pair(folder, account_file_hook=harness_hook(secret))
    return Services(broker, influx, secret)


def stop_services(services: Services) -> None:
    """Stop both servers and close the registry."""
    if services._accounts is not None:
        services._accounts.registry.close()
    services.influx.stop()
    services.broker.stop()


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


def service_env(
    services: Services,
    database: str,
    *,
    password_file: Path | None = None,
    control: bool = False,
    **extra: str,
) -> dict[str, str]:
    """The environment a `shinshu` process needs to use `services` and `database`.

    `password_file` is the secret of the process's own account (its username is its client
    id); `control` lets it register devices (`shinshu simulate` does for its fleet).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHINSHU_")}
    env.update(
        {
            "SHINSHU_MQTT_URL": services.broker.url,
            "SHINSHU_INFLUX_URL": services.influx.url,
            "SHINSHU_INFLUX_DB": database,
            "PYTHONUNBUFFERED": "1",
        }
    )
    if password_file is not None:
        env["SHINSHU_MQTT_PASSWORD_FILE"] = str(password_file)
    if control:
        env["SHINSHU_CONTROL_PASSWORD_FILE"] = str(services.broker.secrets_path / CONTROL_SECRET)
    env.update({f"SHINSHU_{k.upper()}": v for k, v in extra.items()})
    return env


IngestFactory = Callable[..., Ingest]
AlertsFactory = Callable[..., ServiceProcess]


def run_simulate(services: Services, database: str, *args: str, **extra: str) -> str:
    """Run `shinshu simulate` to completion and return its output."""
    result = subprocess.run(
        [sys.executable, "-m", "shinshu.cli", "simulate", *args],
        env=service_env(services, database, control=True, **extra),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


class DeadLetterInbox:
    """Collects everything published under shinshu/deadletter/."""

    def __init__(self, services: Services) -> None:
        """Subscribe before anything is published."""
        self.records: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        endpoint = services.endpoint()
        self.client = make_client(endpoint, f"dlq-{time.monotonic_ns()}")
        self.client.on_message = self._on_message
        connect(self.client, endpoint)
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_args: subscribed.set()
        self.client.subscribe("shinshu/deadletter/#", qos=1)
        assert subscribed.wait(5)

    def _on_message(self, _c: paho.Client, _u: object, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.records.append((message.topic, json.loads(message.payload)))

    def snapshot(self) -> list[tuple[str, dict[str, Any]]]:
        """The records received so far."""
        with self._lock:
            return list(self.records)

    def reasons(self) -> list[str]:
        """Every reason, for whole messages and single readings alike."""
        with self._lock:
            found = []
            for _topic, record in self.records:
                if "reason" in record:
                    found.append(record["reason"])
                found.extend(item["reason"] for item in record.get("rejected", []))
            return found

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


# Generated input for the fuzz tests: arbitrary JSON, deep nesting, valid messages mutated.

DAY_MS = 86_400_000

JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)


def deep_json(levels: int, inner: bytes = b"1") -> bytes:
    """JSON nested `levels` deep, objects and arrays in turn."""
    opens = b"".join(b"[" if i % 2 else b'{"a":' for i in range(levels))
    closes = b"".join(b"]" if i % 2 else b"}" for i in reversed(range(levels)))
    return opens + inner + closes


def batch_documents(device: str, sent_ms: int) -> st.SearchStrategy[dict[str, Any]]:
    """Valid uplink batches of `device` (some readings out of range or time, as devices send)."""
    reading = st.fixed_dictionaries(
        {
            "t": st.integers(min_value=sent_ms - 400 * DAY_MS, max_value=sent_ms + 120_000),
            "k": st.sampled_from([kind.value for kind in SensorKind]),
            "v": st.floats(min_value=-100, max_value=3_000),
        },
        optional={"s": st.text(min_size=1, max_size=8)},
    )
    return st.fixed_dictionaries(
        {
            "v": st.just(1),
            "device": st.just(device),
            "seq": st.integers(min_value=0, max_value=2**20),
            "sent": st.just(sent_ms),
            "readings": st.lists(reading, min_size=1, max_size=6),
        },
        optional={"clock": st.sampled_from(["synced", "unsynced"])},
    )


def status_documents(device: str) -> st.SearchStrategy[dict[str, Any]]:
    """Valid status documents of `device`."""
    return st.fixed_dictionaries(
        {
            "v": st.just(1),
            "device": st.just(device),
            "state": st.sampled_from(["online", "offline"]),
        },
        optional={
            "time": st.integers(min_value=0, max_value=2**63),
            "version": st.text(max_size=10),
            "spool": st.fixed_dictionaries({}, optional={"readings": st.integers(0, 100)}),
        },
    )


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[dict[str, Any]]) -> bytes:
    """A valid document with one value replaced, or its text cut, spliced or nested deeper."""
    doc = draw(valid)
    how = draw(st.sampled_from(["replace", "replace-reading", "bytes", "deepen"]))
    if how == "replace":
        doc[draw(st.sampled_from([*doc, "extra"]))] = draw(JSON_VALUES)
    elif how == "replace-reading" and "readings" in doc:
        reading = draw(st.sampled_from(doc["readings"]))
        reading[draw(st.sampled_from(["t", "k", "v", "s", "x"]))] = draw(JSON_VALUES)
    text = json.dumps(doc).encode()
    if how == "bytes":
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 4))
        text = text[:at] + draw(st.binary(max_size=4)) + text[at + cut :]
    elif how == "deepen":
        at = draw(st.sampled_from([i for i, c in enumerate(text) if c in b":,["] or [0]))
        levels = draw(st.integers(1, 3_000))
        text = text[: at + 1] + b"[" * levels + b"0" + b"]" * levels + text[at + 1 :]
    return text


def _as_json(doc: Any) -> bytes:
    """A document as JSON bytes."""
    return json.dumps(doc).encode()


def uplink_payloads(device: str, sent_ms: int) -> st.SearchStrategy[bytes]:
    """What might arrive on `device`'s up topic: valid batches, mutated ones, anything at all."""
    return st.one_of(
        batch_documents(device, sent_ms).map(_as_json),
        mutated(batch_documents(device, sent_ms)),
        any_payloads(),
    )


def status_payloads(device: str) -> st.SearchStrategy[bytes]:
    """What might arrive on `device`'s status topic."""
    return st.one_of(
        status_documents(device).map(_as_json), mutated(status_documents(device)), any_payloads()
    )


def any_payloads() -> st.SearchStrategy[bytes]:
    """Random bytes, random JSON, and nesting up to 5,000 deep, closed or not."""
    return st.one_of(
        st.binary(max_size=64),
        JSON_VALUES.map(_as_json),
        st.builds(
            lambda levels, opener: opener * levels,
            st.integers(1, 5_000),
            st.sampled_from([b"[", b'{"a":', b'["]",']),
        ),
        st.builds(deep_json, st.integers(1, 3_000)),
    )


def run_shinshu(data_dir: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """Run `shinshu` with only `SHINSHU_DATA_DIR` and the given settings of the platform's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHINSHU_")}
    env["SHINSHU_DATA_DIR"] = str(data_dir)
    env.update({f"SHINSHU_{k.upper()}": v for k, v in settings.items()})
    return subprocess.run(
        [sys.executable, "-m", "shinshu.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_same_aggregates(got: list[dict[str, object]], want: list[dict[str, object]]) -> None:
    """Same buckets; counts, minima and maxima equal, means to 1e-9."""
    assert [r["time"] for r in got] == [r["time"] for r in want]
    for mine, theirs in zip(got, want, strict=True):
        assert (mine["count"], mine["min"], mine["max"]) == (
            theirs["count"],
            theirs["min"],
            theirs["max"],
        )
        assert math.isclose(mine["mean"], theirs["mean"], rel_tol=1e-9, abs_tol=1e-9)  # type: ignore[arg-type]
