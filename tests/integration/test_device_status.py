"""A device's status messages reach the API: online, spool depth, drops, then offline on death."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from integration.test_edge_agent import (  # noqa: F401 (agents is a fixture)
    TENANT,
    Agent,
    agents,
    new_agent,
    publish_retained,
)
from support import IngestFactory, Services, make_influx, wait_until

from core.settings import Settings, load_api_settings
from dashboard.app import create_app
from dashboard.keys import Role
from edge.mqtt import close_client, connect, make_client, subscribe
from edge.protocol import Channel, DeviceTopic

pytestmark = pytest.mark.integration


@pytest.fixture
def api(services: Services, database: str, tmp_path: Path) -> Iterator[TestClient]:
    """The API on the test database, with no catalogue caching, and a viewer key."""
    store = Settings(influx_url=services.influx.url, influx_db=database, data_dir=tmp_path)
    settings = load_api_settings(store, env={"SHINSHU_API_CATALOGUE_TTL_S": "0"})
    app = create_app(settings)
    token = app.state.context.keys.create(TENANT, Role.VIEWER, name="viewer")[1]
    with TestClient(app, headers={"X-API-Key": token}) as client:
        yield client


def _device(client: TestClient, device: str) -> dict[str, object] | None:
    answer = client.get(f"/api/v1/tenants/{TENANT}/devices")
    assert answer.status_code == 200, answer.text
    found = [d for d in answer.json() if d["device"] == device]
    return found[0] if found else None


def test_device_status_is_stored_and_served(
    services: Services,
    database: str,
    ingest_factory: IngestFactory,
    agents: list[Agent],  # noqa: F811 (fixture)
    api: TestClient,
) -> None:
    """Online with its spool figures while it runs; offline (last will) after kill -9."""
    client = api
    ingest_factory(services, database)
    tmp_path = client.app.state.context.settings.store.data_path  # type: ignore[attr-defined]
    agent = new_agent(agents, tmp_path, services, keepalive_s=2, status_interval_s=1.0)
    agent.start()
    wait_until(
        lambda: (d := _device(client, agent.device)) is not None and d["online"] is True,
        30,
        "the device online in the API",
    )
    online = _device(client, agent.device)
    assert online is not None
    assert isinstance(online["spool_depth"], int) and online["spool_depth"] >= 0
    assert online["dropped_readings"] == 0
    assert online["status_at"] is not None
    agent.kill()
    wait_until(
        lambda: (d := _device(client, agent.device)) is not None and d["online"] is False,
        20,
        "the device offline in the API",
    )
    offline = _device(client, agent.device)
    assert offline is not None
    # The last will carries no spool figures: the last known ones are kept.
    assert offline["spool_depth"] == online["spool_depth"] or offline["spool_depth"] is not None
    assert offline["status_at"] >= online["status_at"]


def test_a_malformed_status_is_dead_lettered_and_stores_nothing(
    services: Services, database: str, ingest_factory: IngestFactory
) -> None:
    """A status that is not a status document goes to the dead-letter topic with its reason."""
    ingest_factory(services, database)
    store = make_influx(services.influx, database)
    letters: list[dict[str, object]] = []
    endpoint = services.endpoint()
    watcher = make_client(endpoint, f"dead-letters-{uuid.uuid4().hex[:8]}")
    connect(watcher, endpoint)
    subscribe(
        watcher,
        f"shinshu/deadletter/{TENANT}",
        lambda _topic, payload: letters.append(json.loads(payload)),
    )
    time.sleep(0.5)  # let the subscription settle before publishing
    topic = DeviceTopic(TENANT, "field", "pi-bad").topic(Channel.STATUS)
    for payload in (b"not json", b'{"v":1,"device":"pi-bad","state":"dancing"}'):
        publish_retained(services.url, topic, payload)
    wait_until(lambda: len(letters) >= 2, 20, "two dead letters")
    reasons = sorted(str(letter["reason"]) for letter in letters)
    assert "JSON" in reasons[1] or "JSON" in reasons[0]
    assert any("unknown agent state" in r for r in reasons)
    # Other tests' agents left retained statuses on the shared broker: look at this device only.
    stored = store.query('SELECT * FROM "device_status" WHERE "device" = \'pi-bad\'')
    assert stored[0].get("series") is None
    publish_retained(services.url, topic, b"")
    close_client(watcher)


def test_a_quiet_agent_stops_promptly_and_says_goodbye(
    services: Services,
    agents: list[Agent],  # noqa: F811 (fixture)
    tmp_path: Path,
) -> None:
    """SIGTERM with no reading or status due for a minute: drained, offline, exit 0, quickly."""
    sensors: list[dict[str, object]] = [
        {"name": "air", "driver": "simulated", "kind": "air_temperature", "interval_s": 60.0}
    ]
    agent = new_agent(agents, tmp_path, services, sensors, status_interval_s=60.0)
    agent.start()
    wait_until(lambda: "agent " in agent.logs(), 20, "the agent to start")
    time.sleep(2.0)  # connected, first reading sent; nothing else due for a minute
    began = time.monotonic()
    assert agent.stop() == 0, agent.logs()
    took = time.monotonic() - began
    assert took < 15, f"stopping took {took:.1f} s"
    assert "Error" not in agent.logs(), agent.logs()
