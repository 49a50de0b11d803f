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
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pyarrow.parquet as pq
import pytest
from support import Services, count_points, make_influx, wait_until

from dashboard.keys import KeyStore, Role
from edge.protocol import DeviceTopic, SensorKind
from shinshu.localservices import free_port
from storage.influx.lineprotocol import series_lines

pytestmark = pytest.mark.integration

DEVICES = [f"logger-{i:02d}" for i in range(10)]
POINTS = 100_000
START_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
STEP_MS = 60_000
RANGE = {"start": "2025-01-01T00:00:00Z", "end": "2025-04-01T00:00:00Z"}
MEMORY_LIMIT = 200 * 1024 * 1024


# Series of tenant `mixed` in the order an export gives them at one time: kind, site, device,
# sensor. The last one also reports between the others' readings.
MIXED_SERIES = [
    (SensorKind.AIR_TEMPERATURE, "a-site", "gw", "t0"),
    (SensorKind.AIR_TEMPERATURE, "a-site", "gw", "t1"),
    (SensorKind.AIR_TEMPERATURE, "b-site", "gw", "t1"),
    (SensorKind.SOIL_MOISTURE, "a-site", "probe", "m1"),
]
MIXED_VALUES = [-0.0, 0.1, 1e-7, -20.0, 123456.789012345, 2.5e300]


def _mixed_points() -> list[tuple[int, SensorKind, str, str, str, float]]:
    """Tenant `mixed`'s stored points in export order."""
    points = []
    for i in range(3):
        for s, (kind, site, device, sensor) in enumerate(MIXED_SERIES):
            points.append((START_MS + i * 120_000, kind, site, device, sensor, MIXED_VALUES[i + s]))
        points.append((START_MS + i * 120_000 + 60_000, *MIXED_SERIES[3], -MIXED_VALUES[i]))
    return points


@dataclass(frozen=True)
class Server:
    """The API under test: its URL, researcher keys of `omega` and `mixed`, and its pid."""

    url: str
    token: str
    mixed_token: str
    pid: int


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
        self.idle = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> _PeakRss:
        self.idle = self.process.memory_info().rss
        self._thread.start()
        return self

    def report(self) -> str:
        """Peak and idle RSS, for a failure message."""
        return f"peak RSS {self.peak / 2**20:.0f} MB (idle before {self.idle / 2**20:.0f} MB)"

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def server(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`python -m dashboard.cli serve` over a million stored readings and a few mixed ones."""
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
    for ts, kind, site, device, sensor, value in _mixed_points():
        lines = series_lines(DeviceTopic("mixed", site, device), sensor, kind, [ts], [value])
        assert store.write_lines(lines) == []
    data_dir = tmp_path_factory.mktemp("export")
    keys = KeyStore(data_dir / "api_keys.sqlite3")
    _, token = keys.create("omega", Role.RESEARCHER, sites=["larch-plot"])
    _, mixed_token = keys.create("mixed", Role.RESEARCHER, sites=["a-site", "b-site"])
    keys.close()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHINSHU_")}
    env.update(
        SHINSHU_MQTT_URL=services.broker.url,
        SHINSHU_MQTT_PASSWORD_FILE=str(services.broker.secrets_path / "shinshu-api.secret"),
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
    yield Server(url, token, mixed_token, proc.pid)
    proc.terminate()
    proc.wait(30)


def test_csv_export_of_a_million_rows_equals_the_store_in_flat_memory(
    server: Server,
) -> None:
    """Every stored point comes out once, in order, exactly; the server stays under 200 MB."""
    url, token, pid = server.url, server.token, server.pid
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
            "clock_corrected",
            "sequence_gap",
            "gap_before_s",
            "latitude",
            "longitude",
            "elevation_m",
        ]
        for row, (ts, device, value) in zip(lines, _expected(), strict=True):
            assert (int(row[1]), row[5], float(row[7])) == (ts, device, value)
            assert row[2:5] == ["air_temperature", "°C", "larch-plot"] and row[6] == "t-air"
            rows += 1
    elapsed = time.perf_counter() - began
    assert rows == POINTS * len(DEVICES)
    assert memory.peak < MEMORY_LIMIT, memory.report()
    print(f"csv: {rows / elapsed:,.0f} rows/s, {memory.report()}")


def test_parquet_export_equals_the_store_in_flat_memory(server: Server, tmp_path: Path) -> None:
    """The Parquet file holds every stored point; the server stays under 200 MB."""
    url, token, pid = server.url, server.token, server.pid
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
    assert memory.peak < MEMORY_LIMIT, memory.report()
    print(f"parquet: {memory.report()}")
    table = pq.read_table(target, columns=["time", "device", "value"])
    assert table.num_rows == POINTS * len(DEVICES)
    times = table.column("time").cast("int64").to_pylist()
    devices = table.column("device").to_pylist()
    values = table.column("value").to_pylist()
    for got, want in zip(zip(times, devices, values, strict=True), _expected(), strict=True):
        assert got == want


def _mixed_expected() -> list[tuple[int, str, str, str, str, str, str]]:
    return [
        (ts, kind.value, kind.unit.value, site, device, sensor, value.hex())
        for ts, kind, site, device, sensor, value in _mixed_points()
    ]


def test_rows_of_several_kinds_and_sites_come_in_time_then_series_order(
    server: Server, tmp_path: Path
) -> None:
    """Time first, then kind, site, device and sensor; values as stored, negative zero too."""
    params = {**RANGE, "site": ["b-site", "a-site"]}
    headers = {"X-API-Key": server.mixed_token}
    base = server.url + "/api/v1/tenants/mixed/exports/readings"
    response = httpx.get(base + ".csv", params=params, headers=headers, timeout=30)
    assert response.status_code == 200
    rows = list(csv.reader(response.text.splitlines()))[1:]
    assert [(int(r[1]), *r[2:7], float(r[7]).hex()) for r in rows] == _mixed_expected()
    response = httpx.get(base + ".parquet", params=params, headers=headers, timeout=30)
    assert response.status_code == 200
    (tmp_path / "mixed.parquet").write_bytes(response.content)
    table = pq.read_table(tmp_path / "mixed.parquet")
    got = zip(
        table.column("time").cast("int64").to_pylist(),
        *(table.column(c).to_pylist() for c in ("kind", "unit", "site", "device", "sensor")),
        (v.hex() for v in table.column("value").to_pylist()),
        strict=True,
    )
    assert list(got) == _mixed_expected()
