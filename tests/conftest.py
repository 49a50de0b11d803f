"""Session fixtures: a real Mosquitto broker and a real InfluxDB on free ports, plus helpers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import (
    AlertsFactory,
    Ingest,
    IngestFactory,
    ServiceProcess,
    Services,
    service_env,
    start_services,
    stop_services,
)

from identity.accounts import ServiceRole
from shinshu.localservices import free_port


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """One broker (the shipped configuration: accounts, persistence, TLS) and one database."""
    running = start_services(tmp_path_factory.mktemp("services"))
    yield running
    stop_services(running)


@pytest.fixture
def own_services(tmp_path: Path) -> Iterator[Services]:
    """A broker and database of this test's own, for tests that stop them."""
    running = start_services(tmp_path / "services")
    yield running
    stop_services(running)


@pytest.fixture
def database() -> str:
    """A fresh database name per test, so tests never see each other's points."""
    return f"test_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def ingest_factory(tmp_path: Path) -> Iterator[IngestFactory]:
    """Start ingest workers for a test; all are stopped afterwards."""
    started: list[Ingest] = []

    def start(services: Services, database: str, **extra: str) -> Ingest:
        port = free_port()
        extra.setdefault("ingest_client_id", f"ingest-{uuid.uuid4().hex[:8]}")
        secret = services.service_account(ServiceRole.INGEST, extra["ingest_client_id"], tmp_path)
        env = service_env(
            services, database, password_file=secret, ingest_metrics_port=str(port), **extra
        )
        worker = Ingest(env, tmp_path / f"ingest-{len(started)}.log", port)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.shut_down()


@pytest.fixture
def alerts_factory(tmp_path: Path) -> Iterator[AlertsFactory]:
    """Start `shinshu alerts` services for a test; all are stopped afterwards."""
    started: list[ServiceProcess] = []

    def start(services: Services, database: str, **extra: str) -> ServiceProcess:
        port = free_port()
        extra.setdefault("alerts_client_id", f"alerts-{uuid.uuid4().hex[:8]}")
        secret = services.service_account(ServiceRole.ALERTS, extra["alerts_client_id"], tmp_path)
        env = service_env(
            services, database, password_file=secret, alerts_metrics_port=str(port), **extra
        )
        log = tmp_path / f"alerts-{len(started)}.log"
        service = ServiceProcess(env, log, port, command="alerts")
        started.append(service)
        return service.start()

    yield start
    for service in started:
        service.shut_down()
