"""The broker restarts mid-stream, cleanly and by kill -9: every reading is stored exactly once.

Five real edge agents publish 2,000 readings each through the shipped broker configuration
(accounts, persistence) to real ingest and InfluxDB. A broker that is killed loses what it had
acknowledged but not yet saved; the agents keep every batch until ingest's receipt says it is
stored, and send the unconfirmed ones again when they reconnect.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from integration.test_edge_agent import (  # noqa: F401 (agents is a fixture)
    AIR,
    Agent,
    agents,
    new_agent,
    stored,
)
from support import IngestFactory, Services, count_points, make_influx, wait_until

pytestmark = pytest.mark.integration

DEVICES = 5
PER_DEVICE = 2_000


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_a_broker_restart_mid_stream_loses_no_reading(
    own_services: Services,
    *,
    database: str,
    ingest_factory: IngestFactory,
    agents: list[Agent],  # noqa: F811
    tmp_path: Path,
    how: signal.Signals,
) -> None:
    """5 devices x 2,000 readings, the broker restarted in the middle: exactly 10,000 stored."""
    services = own_services
    ingest_factory(services, database)
    store = make_influx(services.influx, database)
    sensors: list[dict[str, object]] = [
        {
            "name": "air",
            "driver": "simulated",
            "kind": AIR.value,
            "interval_s": 0.005,
            "options": {"count": PER_DEVICE},
        }
    ]
    fleet = [
        new_agent(
            agents, tmp_path, services, sensors, batch_linger_s=0.05, batch_max_readings=20
        ).start()
        for _ in range(DEVICES)
    ]
    wait_until(lambda: count_points(store) >= 3_000, 60, "the stream to be under way")
    services.broker.stop(how)
    time.sleep(1.0)
    services.broker.start()
    wait_until(lambda: count_points(store) >= DEVICES * PER_DEVICE, 120, "every reading")
    time.sleep(2.0)
    assert count_points(store) == DEVICES * PER_DEVICE
    for agent in fleet:
        assert agent.stop() == 0, agent.logs()
        assert len(agent.sampled()) == PER_DEVICE
        assert set(stored(store, agent.device)) == set(agent.sampled())
        # Every batch was confirmed stored, so nothing is left to send.
        assert agent.spool_left() == (0, 0), agent.logs()
