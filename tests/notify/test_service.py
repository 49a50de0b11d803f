"""The notifier as a real process: alerts in the store reach a real webhook receiver, once each,
in order, also across a `kill -9` in mid-delivery."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from support import scrape, wait_until
from webhook_receiver import Receiver

from notify.dispatcher import notification_key
from notify.subscriptions import ChannelKind, Severity, Subscription, Subscriptions
from shinshu.localservices import free_port
from storage.alert_types import Alert, AlertKind
from storage.alerts import AlertStore
from storage.sqlite.store import SqliteStore

pytestmark = pytest.mark.integration

SECRET = "webhook-secret-for-tests"


class Slow(Receiver):
    """A receiver that takes `delay_s` over each request, so a kill lands mid-delivery."""

    def __init__(self, port: int, secret: bytes, delay_s: float) -> None:
        super().__init__(port, secret)
        real = self.got.take

        def take(key: str, valid: bool, body: bytes) -> int:
            time.sleep(delay_s)
            return real(key, valid, body)

        self.got.take = take  # type: ignore[method-assign]


def _env(tmp_path: Path, metrics_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHINSHU_")}
    env.update(
        {
            "SHINSHU_STORE": f"sqlite:///{tmp_path / 'store.sqlite3'}",
            "SHINSHU_DATA_DIR": str(tmp_path / "data"),
            "SHINSHU_NOTIFY_METRICS_PORT": str(metrics_port),
            "SHINSHU_NOTIFY_POLL_S": "0.1",
            "SHINSHU_NOTIFY_RETRY_MAX_S": "0.5",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _start(env: dict[str, str], log: Path, metrics_port: int) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "shinshu.cli", "notify", "run"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the notifier exited:\n{log.read_text()}")
        try:
            scrape(metrics_port)
        except httpx.HTTPError:
            return False
        return True

    wait_until(up, 30, "the notifier to start")
    return proc


def _alerts(tenant: str, n: int, start_ms: int) -> list[Alert]:
    return [
        Alert(
            tenant,
            "works",
            "gw",
            f"w{i % 4}",
            AlertKind.DROP,
            start_ms + i,
            5.0,
            "drop",
            start_ms + i,
        )
        for i in range(n)
    ]


def test_kill_9_in_mid_delivery_loses_and_repeats_nothing(tmp_path: Path) -> None:
    """100 alerts; the notifier is killed after some arrived and started again: the receiver
    has 100 distinct keys in the alerts' order, and saw no key twice beyond one in flight."""
    receiver = Slow(free_port(), SECRET.encode(), delay_s=0.03)
    receiver.start()
    data = tmp_path / "data"
    subs = Subscriptions(data / "notifications.sqlite3")
    now_ms = int(time.time() * 1000)
    sub = subs.add(
        Subscription(
            "",
            "alpha",
            "factory manager",
            ChannelKind.WEBHOOK,
            receiver.url,
            min_severity=Severity.INFO,
            secret=SECRET,
        ),
        now_ms=now_ms - 1000,
    )
    subs.close()
    store = SqliteStore(tmp_path / "store.sqlite3")
    alerts = _alerts("alpha", 100, now_ms)
    AlertStore(store).write(alerts)
    expected = [notification_key(a.id, sub.id) for a in alerts]
    metrics_port = free_port()
    env = _env(tmp_path, metrics_port)
    log = tmp_path / "notify.log"
    proc = _start(env, log, metrics_port)
    try:
        wait_until(lambda: len(receiver.got.order) >= 30, 60, "the first deliveries")
        proc.kill()
        proc.wait()
        killed_at = len(receiver.got.order)
        assert killed_at < 100, "the kill came too late to test anything"
        proc = _start(env, log, metrics_port)
        wait_until(lambda: len(receiver.got.order) == 100, 60, "every delivery after the restart")
    finally:
        proc.terminate()
        proc.wait(30)
        receiver.stop()
    assert receiver.got.order == expected
    keys = [key for key, _ in receiver.got.requests]
    assert all(valid for _, valid in receiver.got.requests)
    repeated = len(keys) - len(set(keys))
    assert repeated <= 1, f"{repeated} repeated deliveries"


def test_a_receiver_down_for_a_minute_gets_every_alert_in_order(tmp_path: Path) -> None:
    """Connection refused for 60 s, then up: every alert arrives, once, in order."""
    port = free_port()
    receiver = Receiver(port, SECRET.encode())
    data = tmp_path / "data"
    subs = Subscriptions(data / "notifications.sqlite3")
    now_ms = int(time.time() * 1000)
    sub = subs.add(
        Subscription("", "alpha", "ops", ChannelKind.WEBHOOK, receiver.url, secret=SECRET),
        now_ms=now_ms - 1000,
    )
    subs.close()
    store = SqliteStore(tmp_path / "store.sqlite3")
    metrics_port = free_port()
    env = _env(tmp_path, metrics_port)
    proc = _start(env, tmp_path / "notify.log", metrics_port)
    alert_store = AlertStore(store)
    written: list[Alert] = []
    stop = threading.Event()

    def raise_alerts() -> None:
        # Alerts keep coming while the receiver is down: one every second.
        while not stop.is_set():
            alert = _alerts("alpha", 1, int(time.time() * 1000))[0]
            alert_store.write([alert])
            written.append(alert)
            stop.wait(1.0)

    writer = threading.Thread(target=raise_alerts, daemon=True)
    writer.start()
    try:
        time.sleep(60)
        attempts = scrape(metrics_port)
        assert any("retried" in name and value > 0 for name, value in attempts.items()), attempts
        receiver.start()
        time.sleep(2)
        stop.set()
        writer.join(5)
        expected = [notification_key(a.id, sub.id) for a in written]
        wait_until(lambda: receiver.got.order == expected, 30, "every alert after the outage")
    finally:
        stop.set()
        proc.terminate()
        proc.wait(30)
        receiver.stop()
    assert len(expected) >= 60
    assert len(receiver.got.requests) == len(expected)
