"""Web API benchmark against a private InfluxDB holding simulated data.

p50/p99 latency, for one client alone and under 20 concurrent clients, of a 7-day hourly
aggregate of one sensor (with the API's short aggregate cache, where identical requests within
5 s share one answer, and without it, from raw points and from hourly rollups), of one year of
daily aggregates of a sensor read every 10 minutes (uncached, raw and rollups), and of the
latest-status list of 500 devices; then export throughput in rows/s and the server's peak
memory while it streams.
Targets: uncached 7-day hourly p99 <= 50 ms; uncached 1-year daily p99 <= 100 ms; device list
p99 <= 100 ms; export >= 200,000 rows/s of a 1,000,000-reading export.

Usage: python bench/api.py [--requests 1000] [--export-days 48]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench._serve import serve, server_env  # noqa: E402
from core.time import MS_PER_DAY  # noqa: E402
from dashboard.keys import KeyStore, Role  # noqa: E402
from edge.protocol import DeviceTopic, SensorKind  # noqa: E402
from shinshu.localservices import LocalInfluxDB, free_port  # noqa: E402
from simulators.backfill import backfill  # noqa: E402
from simulators.scenario import Scenario, Truth  # noqa: E402
from storage.batch import ChannelReadings  # noqa: E402
from storage.influx.client import InfluxStore  # noqa: E402
from storage.readings import Reader  # noqa: E402
from storage.rollup_rebuild import rebuild  # noqa: E402
from storage.rollup_service import run_round  # noqa: E402

START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
START_MS = int(START.timestamp() * 1000)
CLIENTS = 20
YEAR_DAYS = 365


def _fill(store: InfluxStore, export_days: int) -> None:
    """Farms of tenant `farmco` (backfill, rollups rebuilt), 500 devices of tenant `fleet` over
    7 days, and a year of one reading every 10 minutes of tenant `archive` (rollups rebuilt)."""
    scenario = Scenario(10, 5, 3, START_MS, export_days * MS_PER_DAY, 600_000, seed=1)
    backfill(scenario, store, "farmco", Truth(), progress=lambda _l: None)
    year = list(range(START_MS, START_MS + YEAR_DAYS * MS_PER_DAY, 600_000))
    values = [5.0 + (i % 1000) / 53.0 for i in range(len(year))]
    topic = DeviceTopic("archive", "station", "logger")
    store.write_channel(ChannelReadings(topic, "t1", SensorKind.AIR_TEMPERATURE, year, values))
    rebuild(store, start_ms=START_MS, end_ms=year[-1] + 1, tenant="archive")
    # As `shinshu rollup` would: one round sets the watermark that rollup reads trust.
    run_round(store, lag_s=0)
    times = [START_MS + i * 600_000 for i in range(7 * 144)]
    for d in range(500):
        topic = DeviceTopic("fleet", f"site-{d // 50}", f"dev-{d:03d}")
        values = [d % 30.0] * len(times)
        store.write_channel(ChannelReadings(topic, "t1", SensorKind.AIR_TEMPERATURE, times, values))


def _latency(
    client: httpx.Client,
    url: str,
    params: dict[str, str],
    requests: int,
    clients: int = CLIENTS,
) -> list[float]:
    """Seconds of each of `requests` identical requests sent by `clients` concurrent clients."""

    def one(_i: int) -> float:
        began = time.perf_counter()
        response = client.get(url, params=params)
        response.raise_for_status()
        return time.perf_counter() - began

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(40)))  # warm-up
        return list(pool.map(one, range(requests)))


def _report_both(
    name: str,
    client: httpx.Client,
    url: str,
    params: dict[str, str],
    *,
    requests: int,
    target: int,
) -> None:
    """One client alone (what one chart waits), then CLIENTS at once (queueing included)."""
    _report(f"{name}, 1 client", _latency(client, url, params, requests // 4, 1), target)
    _report(f"{name}, {CLIENTS} clients", _latency(client, url, params, requests), target)


def _report(name: str, samples: list[float], target_ms: int) -> None:
    cuts = statistics.quantiles(samples, n=100)
    print(
        f"{name}: p50 {cuts[49] * 1000:.1f} ms, p99 {cuts[98] * 1000:.1f} ms "
        f"(target p99 <= {target_ms} ms)",
        flush=True,
    )


def _aggregates_url(client: httpx.Client, base: str, tenant: str) -> str:
    """The aggregates URL of the first sensor of the tenant's first device."""
    sensor = client.get(f"{base}/{tenant}/devices").json()[0]
    device = f"{base}/{tenant}/sites/{sensor['site']}/devices/{sensor['device']}"
    return f"{device}/sensors/{sensor['sensors'][0]['sensor']}/aggregates"


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


def _exported_rows(url: str, fmt: str) -> int:
    """Rows the server counted for `fmt` (Prometheus may print the number as 1.00224e+06)."""
    prefix = f'shinshu_api_export_rows_total{{format="{fmt}"}}'
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(prefix):
            return int(float(line.split()[-1]))
    return 0


def _export(url: str, pid: int, researcher: str, export_days: int) -> None:
    """Stream the whole tenant as CSV, then as Parquet; rows/s and peak server memory."""
    end = (START + dt.timedelta(days=export_days)).isoformat()
    idle = psutil.Process(pid).memory_info().rss
    for fmt in ("csv", "parquet"):
        before = _exported_rows(url, fmt)
        began = time.perf_counter()
        size = 0
        with (
            _PeakRss(pid) as memory,
            httpx.stream(
                "GET",
                f"{url}/api/v1/tenants/farmco/exports/readings.{fmt}",
                params={"start": START.isoformat(), "end": end},
                headers={"X-API-Key": researcher},
                timeout=600,
            ) as response,
        ):
            response.raise_for_status()
            for chunk in response.iter_raw():
                size += len(chunk)
        elapsed = time.perf_counter() - began
        rows = _exported_rows(url, fmt) - before
        print(
            f"export {fmt}: {rows:,} rows, {size / 2**20:.1f} MB in {elapsed:.2f} s "
            f"= {rows / elapsed:,.0f} rows/s (target >= 200,000); server RSS "
            f"{idle / 2**20:.0f} MB idle, {memory.peak / 2**20:.0f} MB peak"
        )


def main() -> None:
    """Start InfluxDB and the API, load data, measure, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument(
        "--export-days",
        type=int,
        default=48,
        help="simulated days; 48 make the 1,000,000-reading export of the target",
    )
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory() as folder:
        influx = LocalInfluxDB("influxd", Path(folder), free_port())
        influx.start()
        try:
            store = InfluxStore(httpx.Client(base_url=influx.url, timeout=120), "bench")
            store.ensure_database()
            _fill(store, args.export_days)
            keys = KeyStore(Path(folder) / "api_keys.sqlite3")
            tokens = {t: keys.create(t, Role.VIEWER)[1] for t in ("farmco", "fleet", "archive")}
            # The researcher gets every farm, forest and factory site: the export is the whole
            # tenant over the simulated period.
            every_site = Reader(store).catalogue("farmco").sites()
            researcher = keys.create("farmco", Role.RESEARCHER, sites=every_site)[1]
            env = server_env(influx.url, folder)
            limits = httpx.Limits(max_connections=CLIENTS)
            clients = {
                t: httpx.Client(headers={"X-API-Key": k}, limits=limits, timeout=30)
                for t, k in tokens.items()
            }
            week = {
                "start": "2025-01-08T00:00:00Z",
                "end": "2025-01-15T00:00:00Z",
                "interval": "1h",
            }
            year = {
                "start": START.isoformat(),
                "end": (START + dt.timedelta(days=YEAR_DAYS)).isoformat(),
                "interval": "1d",
            }
            # The same chart with and without the cache and rollups: every figure, so none hides
            # another; and uncached with the mean alone, which is what the dashboard's charts ask
            # for.
            variants = (
                ("0", "false", "uncached, raw points", {}),
                ("0", "false", "uncached, raw points, mean only", {"function": "mean"}),
                ("0", "true", "uncached, rollups", {}),
                ("0", "true", "uncached, rollups, mean only", {"function": "mean"}),
                ("5", "false", "cached 5 s", {}),
            )
            for ttl, rolled, label, extra in variants:
                settings = {
                    **env,
                    "SHINSHU_API_AGGREGATE_TTL_S": ttl,
                    "SHINSHU_ROLLUP_READS": rolled,
                }
                # The cache is measured on the weekly chart; the yearly one is asked uncached.
                charts = [("7-day hourly", "farmco", week, 50)]
                if ttl == "0":
                    charts.append(("1-year daily", "archive", year, 100))
                with serve(settings) as (url, _pid):
                    base = f"{url}/api/v1/tenants"
                    for what, tenant, window, target in charts:
                        client = clients[tenant]
                        _report_both(
                            f"{what} aggregate, {label}",
                            client,
                            _aggregates_url(client, base, tenant),
                            {**window, **extra},
                            requests=args.requests,
                            target=target,
                        )
            fleet = clients["fleet"]
            with serve(env) as (url, pid):
                base = f"{url}/api/v1/tenants"
                devices = fleet.get(f"{base}/fleet/devices").json()
                assert len(devices) == 500, len(devices)
                _report(
                    "latest status of 500 devices",
                    _latency(fleet, f"{base}/fleet/devices", {}, args.requests),
                    100,
                )
                _export(url, pid, researcher, args.export_days)
        finally:
            influx.stop()
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
