"""MQTT over TLS with the platform's private CA: agents get through, impostors do not."""

from __future__ import annotations

from pathlib import Path

import pytest
from integration.test_edge_agent import (  # noqa: F401 (agents is a fixture)
    Agent,
    agents,
    new_agent,
    stored,
)
from support import IngestFactory, Services, make_influx, wait_until

from edge.mqtt import MqttEndpoint, MqttError, close_client, connect, make_client
from identity.certs import make_broker_cert, make_ca

pytestmark = pytest.mark.integration


def test_an_edge_agent_publishes_over_tls_and_its_readings_are_stored(
    services: Services,
    database: str,
    ingest_factory: IngestFactory,
    agents: list[Agent],  # noqa: F811
    tmp_path: Path,
) -> None:
    """A real agent on mqtts:// with the CA file: its readings reach the store."""
    ingest_factory(services, database)
    store = make_influx(services.influx, database)
    agent = new_agent(agents, tmp_path, services, tls=True).start()
    wait_until(lambda: len(stored(store, agent.device)) >= 20, 30, "readings sent over TLS")
    assert agent.stop() == 0, agent.logs()
    assert set(agent.sampled()) == set(stored(store, agent.device))
    assert "mqtts://" in agent.logs()


def test_a_client_that_trusts_another_ca_is_refused(services: Services, tmp_path: Path) -> None:
    """The broker's certificate does not verify against a stranger's CA: no session."""
    other = make_ca(tmp_path / "other", "Someone else's CA")
    make_broker_cert(other, tmp_path / "other", ("localhost",))
    secret = services.broker.secret("shinshu-monitor")
    base = MqttEndpoint.from_url(services.broker.tls_url).with_login("shinshu-monitor", secret)
    stranger = base.with_tls_files(other.cert)
    client = make_client(stranger, "shinshu-monitor")
    with pytest.raises(MqttError, match="certificate verify failed"):
        connect(client, stranger, timeout=5)
    # Without any CA file, the system's trust store does not know the private CA either.
    public = make_client(base, "shinshu-monitor")
    with pytest.raises(MqttError, match="certificate verify failed"):
        connect(public, base, timeout=5)
    trusted = base.with_tls_files(services.broker.ca_file)
    client = make_client(trusted, "shinshu-monitor")
    connect(client, trusted, timeout=5)
    close_client(client)
