"""RabbitMQ's HTTP backend questions, answered from a real registry over real HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support import run_shinshu

from core.routing import routing_key_topic, topic_routing_key
from edge.protocol import Channel, DeviceTopic
from identity.accounts import ServiceRole
from identity.auth_http import AuthServer
from identity.rabbit_auth import RabbitAuth
from identity.rabbit_config import DEBIAN_RABBIT, enabled_plugins, render
from identity.registry import Registry
from identity.service import AccountService
from shinshu.localservices import free_port

DEPLOY = Path(__file__).parents[2] / "deploy" / "rabbitmq"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[AccountService, str]]:
    """A registry and the HTTP service answering from it."""
    registry = Registry(tmp_path / "registry.sqlite3")
    server = AuthServer(RabbitAuth(registry))
    server.start()
    yield AccountService(registry, None), server.url
    server.stop()
    registry.close()


def ask(url: str, question: str, **params: str) -> str:
    """POST one question as RabbitMQ does and return the body."""
    return httpx.post(f"{url}/{question}", data=params, timeout=5).text


def test_a_device_logs_in_with_its_secret_and_its_own_client_id_only(
    served: tuple[AccountService, str],
) -> None:
    """Right secret: allow; wrong secret, unknown user, another client id, revoked: deny."""
    accounts, url = served
    issued = accounts.issue_devices([("acme", "plant", "pi-1")], actor="t")["acme", "plant", "pi-1"]
    user = issued.account.username
    assert ask(url, "user", username=user, password=issued.secret) == "allow"
    assert ask(url, "user", username=user, password=issued.secret, client_id=user) == "allow"
    assert ask(url, "user", username=user, password="wrong") == "deny"
    assert ask(url, "user", username="nobody", password=issued.secret) == "deny"
    assert ask(url, "user", username=user, password=issued.secret, client_id="other") == "deny"
    accounts.revoke(user, actor="t")
    assert ask(url, "user", username=user, password=issued.secret) == "deny"


def test_topics_follow_the_device_grants_as_routing_keys(
    served: tuple[AccountService, str],
) -> None:
    """A device writes its own up topic and reads its own ack topic; another device's: deny."""
    accounts, url = served
    issued = accounts.issue_devices(
        [("acme", "plant", "pi-1"), ("acme", "plant", "pi-2")], actor="t"
    )
    user = issued["acme", "plant", "pi-1"].account.username
    mine, other = DeviceTopic("acme", "plant", "pi-1"), DeviceTopic("acme", "plant", "pi-2")

    def topic(permission: str, mqtt_topic: str) -> str:
        key = topic_routing_key(mqtt_topic)
        return ask(
            url, "topic", username=user, vhost="/", resource="topic", name="amq.topic",
            permission=permission, routing_key=key,
        )  # fmt: skip

    assert topic("write", mine.topic(Channel.UP)) == "allow"
    assert topic("write", other.topic(Channel.UP)) == "deny"
    assert topic("read", mine.topic(Channel.ACK)) == "allow"
    assert topic("read", other.topic(Channel.ACK)) == "deny"
    assert ask(url, "vhost", username=user, vhost="/") == "allow"
    assert ask(url, "vhost", username=user, vhost="other") == "deny"


def test_only_ingest_accounts_may_use_the_ingest_queue(served: tuple[AccountService, str]) -> None:
    """The quorum queue is ingest's; a device may not configure or read it."""
    accounts, url = served
    worker = accounts.add_service(ServiceRole.INGEST, "ingest-a", actor="t").account.username
    device = accounts.issue_devices([("acme", "plant", "pi-1")], actor="t")
    user = device["acme", "plant", "pi-1"].account.username
    for permission in ("configure", "read"):
        params = {"vhost": "/", "resource": "queue", "name": "shinshu.ingest"}
        assert ask(url, "resource", username=worker, permission=permission, **params) == "allow"
        assert ask(url, "resource", username=user, permission=permission, **params) == "deny"


def test_topics_and_routing_keys_translate_both_ways() -> None:
    """'/' and '.' swap, '+' is '*'; a dot inside an id survives."""
    topic = "shinshu/v1/acme/plant.a/pi-1/up"
    assert topic_routing_key(topic) == "shinshu.v1.acme.plant/a.pi-1.up"
    assert routing_key_topic(topic_routing_key(topic)) == topic
    assert topic_routing_key("shinshu/v1/+/#") == "shinshu.v1.*.#"


def test_the_shipped_rabbitmq_configuration_is_the_rendered_one() -> None:
    """deploy/rabbitmq holds what the cluster test runs, with the production ports."""
    assert (DEPLOY / "rabbitmq.conf").read_text() == render(DEBIAN_RABBIT)
    assert (DEPLOY / "enabled_plugins").read_text() == enabled_plugins()


def test_the_cli_prints_the_shipped_configuration(tmp_path: Path) -> None:
    """`shinshu broker rabbit-config` prints deploy/rabbitmq/rabbitmq.conf."""
    done = run_shinshu(tmp_path, "broker", "rabbit-config")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (DEPLOY / "rabbitmq.conf").read_text()


def test_the_cli_service_answers_from_the_installation_registry(tmp_path: Path) -> None:
    """`shinshu broker auth-http` reads `<data_dir>/registry.sqlite3` and stops on SIGTERM."""
    registry = Registry(tmp_path / "registry.sqlite3")
    issued = AccountService(registry, None).issue_devices([("acme", "plant", "pi-1")], actor="t")
    registry.close()
    device = issued["acme", "plant", "pi-1"]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHINSHU_")}
    env["SHINSHU_DATA_DIR"] = str(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "shinshu.cli", "broker", "auth-http", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}/auth"
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = ask(url, "user", username=device.account.username, password=device.secret)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "did not start"
                time.sleep(0.1)
        assert answer == "allow"
        assert ask(url, "user", username=device.account.username, password="wrong") == "deny"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
