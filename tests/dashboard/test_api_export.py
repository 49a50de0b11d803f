"""A million readings stream out as CSV and Parquet equal to the stored points, in flat memory."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pyarrow.parquet as pq
import pytest
from support import Services, count_points, make_influx, wait_until

from dashboard.keys import KeyStore, Role
from edge.protocol import DeviceTopic, SensorKind
from ingest.stores.lineprotocol import series_lines
from shinshu.localservices import free_port

pytestmark = pytest.mark.integration

DEVICES = [f"logger-{i:02d}" for i in range(10)]
POINTS = 100_000
START_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
STEP_MS = 60_000
RANGE = {"start": "2025-01-01T00:00:00Z", "end": "2025-04-01T00:00:00Z"}
MEMORY_LIMIT = 200 * 1024 * 1024


def _value(device: int, i: int) -> float:
    return round((i * 7 + device * 13) % 1000 / 10 - 20, 1)


def _expected() -> Iterator[tuple[int, str, float]]:
    """Stored points in export order: time, then device."""
    for i in range(POINTS):
        for d, device in enumerate(DEVICES):
            yield START_MS + i * STEP_MS, device, _value(d, i)


class _PeakRss:
    """Samples a process's resident memory in a thread and keeps the maximum."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def server(
    services: Services, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str, int]]:
    """`python -m dashboard.cli serve` over a million stored readings; (url, token, pid)."""
    database = f"export_{uuid.uuid4().hex[:8]}"
    store = make_influx(services.influx, database)
    store.ensure_database()
    times = [START_MS + i * STEP_MS for i in range(POINTS)]
    for d, device in enumerate(DEVICES):
        topic = DeviceTopic("omega", "larch-plot", device)
        values = [_value(d, i) for i in range(POINTS)]
        for first in range(0, POINTS, 25_000):
            lines = series_lines(
                topic,
                "t-air",
                SensorKind.AIR_TEMPERATURE,
                times[first : first + 25_000],
                values[first : first + 25_000],
            )
            assert store.write_lines(lines) == []
    assert count_points(store) == POINTS * len(DEVICES)
    data_dir = tmp_path_factory.mktemp("export")
    keys = KeyStore(data_dir / "api_keys.sqlite3")
    _, token = keys.create("omega", Role.RESEARCHER, sites=["larch-plot"])
    keys.close()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHINSHU_")}
    env.update(
        SHINSHU_INFLUX_URL=services.influx.url,
        SHINSHU_INFLUX_DB=database,
        SHINSHU_DATA_DIR=str(data_dir),
        SHINSHU_LOG_LEVEL="WARNING",
    )
    log = data_dir / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dashboard.cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, log.read_text()
        try:
            return httpx.get(url + "/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, 30, "the API to start")
    yield url, token, proc.pid
    proc.terminate()
    proc.wait(30)


def test_csv_export_of_a_million_rows_equals_the_store_in_flat_memory(
    server: tuple[str, str, int],
) -> None:
    """Every stored point comes out once, in order, exactly; the server stays under 200 MB."""
    url, token, pid = server
    began = time.perf_counter()
    rows = 0
    with (
        _PeakRss(pid) as memory,
        httpx.stream(
            "GET",
            url + "/api/v1/tenants/omega/exports/readings.csv",
            params=RANGE,
            headers={"X-API-Key": token},
            timeout=120,
        ) as response,
    ):
        assert response.status_code == 200
        lines = csv.reader(response.iter_lines())
        assert next(lines) == [
            "time",
            "timestamp_ms",
            "kind",
            "unit",
            "site",
            "device",
            "sensor",
            "value",
        ]
        for row, (ts, device, value) in zip(lines, _expected(), strict=True):
            assert (int(row[1]), row[5], float(row[7])) == (ts, device, value)
            assert row[2:5] == ["air_temperature", "°C", "larch-plot"] and row[6] == "t-air"
            rows += 1
    elapsed = time.perf_counter() - began
    assert rows == POINTS * len(DEVICES)
    assert memory.peak < MEMORY_LIMIT, f"peak RSS {memory.peak / 2**20:.0f} MB"
    print(f"csv: {rows / elapsed:,.0f} rows/s, peak RSS {memory.peak / 2**20:.0f} MB")


def test_parquet_export_equals_the_store_in_flat_memory(
    server: tuple[str, str, int], tmp_path: Path
) -> None:
    """The Parquet file holds every stored point; the server stays under 200 MB."""
    url, token, pid = server
    target = tmp_path / "export.parquet"
    with (
        _PeakRss(pid) as memory,
        target.open("wb") as out,
        httpx.stream(
            "GET",
            url + "/api/v1/tenants/omega/exports/readings.parquet",
            params=RANGE,
            headers={"X-API-Key": token},
            timeout=120,
        ) as response,
    ):
        assert response.status_code == 200
        for chunk in response.iter_bytes():
            out.write(chunk)
    assert memory.peak < MEMORY_LIMIT, f"peak RSS {memory.peak / 2**20:.0f} MB"
    print(f"parquet: peak RSS {memory.peak / 2**20:.0f} MB")
    table = pq.read_table(target, columns=["time", "device", "value"])
    assert table.num_rows == POINTS * len(DEVICES)
    times = table.column("time").cast("int64").to_pylist()
    devices = table.column("device").to_pylist()
    values = table.column("value").to_pylist()
    for got, want in zip(zip(times, devices, values, strict=True), _expected(), strict=True):
        assert got == want
