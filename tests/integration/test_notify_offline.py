"""A device killed with `kill -9` becomes an offline alert that reaches a real webhook receiver:
agent → Mosquitto (last will) → ingest → InfluxDB → `shinshu alerts` → `shinshu notify`."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from integration.test_edge_agent import (  # noqa: F401 (agents is a fixture)
    SITE,
    TENANT,
    Agent,
    agents,
    new_agent,
)
from support import AlertsFactory, IngestFactory, Services, service_env, wait_until
from webhook_receiver import Receiver

from notify.subscriptions import ChannelKind, Severity, Subscription, Subscriptions
from shinshu.localservices import free_port

pytestmark = pytest.mark.integration

SECRET = "offline-hook-secret"


def test_a_killed_device_is_an_offline_alert_at_the_webhook(
    services: Services,
    *,
    database: str,
    ingest_factory: IngestFactory,
    alerts_factory: AlertsFactory,
    agents: list[Agent],  # noqa: F811 (fixture)
    tmp_path: Path,
) -> None:
    """The broker publishes the killed agent's last will; its offline alert is delivered, signed."""
    receiver = Receiver(free_port(), SECRET.encode())
    receiver.start()
    data = tmp_path / "notify-data"
    subs = Subscriptions(data / "notifications.sqlite3")
    subs.add(
        Subscription(
            "",
            TENANT,
            "on call",
            ChannelKind.WEBHOOK,
            receiver.url,
            min_severity=Severity.CRITICAL,
            kinds=("offline",),
            secret=SECRET,
        ),
        now_ms=int(time.time() * 1000),
    )
    subs.close()
    ingest_factory(services, database)
    alerts_factory(services, database, alerts_health_s="0.5")
    env = service_env(
        services,
        database,
        data_dir=str(data),
        notify_metrics_port=str(free_port()),
        notify_poll_s="0.2",
    )
    log = tmp_path / "notify.log"
    with log.open("ab") as out:
        notifier = subprocess.Popen(
            [sys.executable, "-m", "shinshu.cli", "notify", "run"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def offline_of(device: str) -> list[dict[str, object]]:
        # The shared broker keeps other tests' devices' retained last wills: only ours counts.
        bodies = list(receiver.got.bodies.values())
        return [b for b in bodies if b["alert"]["device"] == device]  # type: ignore[index]

    try:
        agent = new_agent(agents, tmp_path, services, keepalive_s=2, status_interval_s=1.0)
        agent.start()
        time.sleep(3)
        assert offline_of(agent.device) == [], "an offline alert before the device went away"
        agent.kill()
        wait_until(lambda: len(offline_of(agent.device)) == 1, 60, f"the offline webhook ({log})")
    finally:
        notifier.terminate()
        notifier.wait(30)
        receiver.stop()
    (body,) = offline_of(agent.device)
    assert body["alert"]["kind"] == "offline"
    assert body["alert"]["device"] == agent.device and body["alert"]["site"] == SITE
    assert body["title"]["ja"] == "機器がオフライン"
    assert body["tenant"] == TENANT
    assert all(valid for _, valid in receiver.got.requests)
