"""Device registration and configuration through the API, against the real broker."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from support import Services

if TYPE_CHECKING:
    from tests.dashboard.conftest import ApiSettingsFactory

from dashboard.app import create_app
from dashboard.keys import Role
from edge.config import parse_remote
from edge.mqtt import MqttEndpoint, MqttError, close_client, connect, make_client, subscribe_topics

pytestmark = pytest.mark.integration


@dataclass
class DevicesApi:
    """An app with keys of every role of one tenant."""

    client: TestClient
    tenant: str
    tokens: dict[Role, str]

    def headers(self, role: Role) -> dict[str, str]:
        """The auth header of `role`'s key."""
        return {"X-API-Key": self.tokens[role]}


@pytest.fixture
def devices_api(make_api_settings: ApiSettingsFactory, tmp_path: Path) -> Iterator[DevicesApi]:
    """A fresh tenant and app (its own registry), sharing the session's broker."""
    app = create_app(make_api_settings("unused", tmp_path))
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    keys = app.state.context.keys
    tokens = {
        role: keys.create(tenant, role, sites=["f"] if role is Role.RESEARCHER else ())[1]
        for role in Role
    }
    with TestClient(app) as client:
        yield DevicesApi(client, tenant, tokens)


def connects(services: Services, username: str, secret: str) -> bool:
    """Whether the broker accepts `username` with `secret` (and its own client id)."""
    endpoint = MqttEndpoint.from_url(services.broker.url).with_login(username, secret)
    client = make_client(endpoint, username)
    try:
        connect(client, endpoint, timeout=5)
    except MqttError:
        return False
    close_client(client)
    return True


def test_an_admin_registers_rotates_and_revokes_a_device(
    devices_api: DevicesApi, services: Services
) -> None:
    """Register: secret once, it logs in. Rotate: only the new one. Revoke: refused; history."""
    api, admin = devices_api, devices_api.headers(Role.ADMIN)
    base = f"/api/v1/tenants/{api.tenant}/devices"
    created = api.client.post(base, json={"site": "field-1", "device": "pi-1"}, headers=admin)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["username"] == body["client_id"] == f"shinshu-edge/{api.tenant}/field-1/pi-1"
    assert connects(services, body["username"], body["secret"])
    again = api.client.post(base, json={"site": "field-1", "device": "pi-1"}, headers=admin)
    assert again.status_code == 409
    bad = api.client.post(base, json={"site": "a/b", "device": "pi-1"}, headers=admin)
    assert bad.status_code == 422
    (problem,) = bad.json()["detail"]
    assert problem["loc"] == ["body", "site"] and "reserve" in problem["msg"]

    listed = api.client.get(f"{base}/accounts", headers=admin).json()
    assert [(d["site"], d["device"], d["active"]) for d in listed] == [("field-1", "pi-1", True)]
    assert all("secret" not in d for d in listed)

    rotated = api.client.post(f"{base}/field-1/pi-1/rotate", headers=admin)
    assert rotated.status_code == 200, rotated.text
    assert not connects(services, body["username"], body["secret"])
    assert connects(services, body["username"], rotated.json()["secret"])

    revoked = api.client.delete(f"{base}/field-1/pi-1", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    assert not connects(services, body["username"], rotated.json()["secret"])
    shown = api.client.get(f"{base}/field-1/pi-1/account", headers=admin).json()
    assert [e["action"] for e in shown["history"]] == ["add", "rotate", "revoke"]
    key_id = api.tokens[Role.ADMIN].split("_")[1]
    assert {e["actor"] for e in shown["history"]} == {f"key:{key_id}"}
    # Neither operators nor viewers register devices.
    for role in (Role.OPERATOR, Role.VIEWER, Role.RESEARCHER):
        answer = api.client.post(base, json={"site": "f", "device": "x"}, headers=api.headers(role))
        assert answer.status_code == 403


def test_an_operator_sends_configuration_that_is_validated_and_retained(
    devices_api: DevicesApi, services: Services
) -> None:
    """Valid: retained on the device's config topic for the agent. Invalid: 422, nothing sent."""
    api = devices_api
    base = f"/api/v1/tenants/{api.tenant}/devices"
    api.client.post(base, json={"site": "f", "device": "d"}, headers=api.headers(Role.ADMIN))
    config_url = f"{base}/f/d/config"
    operator = api.headers(Role.OPERATOR)
    document = {"rev": 4, "sensors": {"air": {"interval_s": 15, "enabled": True}}}
    answer = api.client.put(config_url, json=document, headers=operator)
    assert answer.status_code == 200, answer.text
    topic = f"shinshu/v1/{api.tenant}/f/d/config"
    assert answer.json() == {"topic": topic, **document}
    for invalid in (
        {"rev": 5, "sensors": {"air": {"interval_s": 0}}},
        {"rev": 5, "sensors": {"air": {"driver": "ds18b20"}}},
        {"rev": -1},
    ):
        refused = api.client.put(config_url, json=invalid, headers=operator)
        assert refused.status_code == 422, (invalid, refused.text)
    assert (
        api.client.put(config_url, json=document, headers=api.headers(Role.VIEWER)).status_code
        == 403
    )
    unknown = api.client.put(f"{base}/f/nobody/config", json=document, headers=operator)
    assert unknown.status_code == 404

    # What the device finds on its topic: the valid configuration, retained.
    received: list[bytes] = []
    got = threading.Event()
    watcher = make_client(services.endpoint(), f"config-watch-{uuid.uuid4().hex[:8]}")
    connect(watcher, services.endpoint())

    def keep(_topic: str, payload: bytes) -> None:
        received.append(payload)
        got.set()

    assert subscribe_topics(watcher, {topic: keep}, wait_s=5) == []
    assert got.wait(5)
    time.sleep(0.3)
    close_client(watcher)
    assert len(received) == 1
    assert json.loads(received[0]) == document
    parsed = parse_remote(received[0], frozenset({"air"}))
    assert parsed.rev == 4 and parsed.sensors["air"].interval_s == 15


def test_device_registration_without_the_control_account_is_a_clear_503(
    make_api_settings: ApiSettingsFactory, tmp_path: Path
) -> None:
    """No control secret configured: the registry routes say what is missing."""
    settings = make_api_settings("unused", tmp_path)
    store = dataclasses.replace(settings.store, control_password_file=None)
    app = create_app(dataclasses.replace(settings, store=store))
    token = app.state.context.keys.create("t-none", Role.ADMIN)[1]
    with TestClient(app) as client:
        answer = client.post(
            "/api/v1/tenants/t-none/devices",
            json={"site": "s", "device": "d"},
            headers={"X-API-Key": token},
        )
    assert answer.status_code == 503
    assert "shinshu broker init" in answer.json()["detail"]
