"""The registry tests' store: each test runs once on InfluxDB and once on SQLite."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import make_influx

from storage.protocol import ReadingStore
from storage.sqlite.store import SqliteStore


@pytest.fixture(
    params=[pytest.param("influxdb", marks=pytest.mark.integration), "sqlite"],
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReadingStore]:
    """An empty store: a fresh database on the session's influxd, or a SQLite file."""
    if request.param == "sqlite":
        sqlite = SqliteStore(tmp_path / "store.sqlite3")
        yield sqlite
        sqlite.close()
        return
    services = request.getfixturevalue("services")
    influx = make_influx(services.influx, f"registry_{uuid.uuid4().hex[:12]}")
    influx.ensure_database()
    yield influx
