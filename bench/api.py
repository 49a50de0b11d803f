"""Web API benchmark against a private InfluxDB holding simulated data.

p50/p99 latency of a 7-day hourly aggregate of one sensor and of the latest-status list of
500 devices, under 20 concurrent clients; then export throughput in rows/s.
Targets: p99 <= 100 ms for both queries; export >= 200,000 rows/s.

Usage: python bench/api.py [--requests 1000] [--export-days 30] [--no-cache]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from dashboard.keys import KeyStore, Role  # noqa: E402
from edge.protocol import DeviceTopic, SensorKind  # noqa: E402
from ingest.stores.influx import InfluxStore  # noqa: E402
from ingest.stores.lineprotocol import series_lines  # noqa: E402
from shinshu.localservices import LocalInfluxDB, free_port  # noqa: E402
from simulators.backfill import backfill  # noqa: E402
from simulators.scenario import Scenario, Truth  # noqa: E402

START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
START_MS = int(START.timestamp() * 1000)


def _fill(store: InfluxStore, export_days: int) -> None:
    """Farms of tenant `farmco` (backfill) and 500 devices of tenant `fleet` over 7 days."""
    scenario = Scenario(10, 5, 3, START_MS, export_days * 86_400_000, 600_000, seed=1)
    backfill(scenario, store, "farmco", Truth(), progress=lambda _l: None)
    times = [START_MS + i * 600_000 for i in range(7 * 144)]
    for d in range(500):
        topic = DeviceTopic("fleet", f"site-{d // 50}", f"dev-{d:03d}")
        lines = series_lines(
            topic, "t1", SensorKind.AIR_TEMPERATURE, times, [d % 30.0] * len(times)
        )
        store.write_lines(lines)


def _latency(client: httpx.Client, url: str, params: dict[str, str], requests: int) -> list[float]:
    def one(_i: int) -> float:
        began = time.perf_counter()
        response = client.get(url, params=params)
        response.raise_for_status()
        return time.perf_counter() - began

    with ThreadPoolExecutor(20) as pool:
        list(pool.map(one, range(40)))  # warm-up
        return list(pool.map(one, range(requests)))


def _report(name: str, samples: list[float]) -> None:
    cuts = statistics.quantiles(samples, n=100)
    print(
        f"{name}: p50 {cuts[49] * 1000:.1f} ms, p99 {cuts[98] * 1000:.1f} ms (target p99 <= 100 ms)"
    )


def main() -> None:
    """Start InfluxDB and the API, load data, measure, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--export-days", type=int, default=30)
    parser.add_argument(
        "--no-cache", action="store_true", help="every aggregate request queries the store"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        influx = LocalInfluxDB("influxd", Path(folder), free_port())
        influx.start()
        server = None
        try:
            store = InfluxStore(httpx.Client(base_url=influx.url, timeout=120), "bench")
            store.ensure_database()
            _fill(store, args.export_days)
            keys = KeyStore(Path(folder) / "api_keys.sqlite3")
            tokens = {t: keys.create(t, Role.VIEWER)[1] for t in ("farmco", "fleet")}
            # The researcher gets every farm, forest and factory site: the export is the whole
            # tenant over the simulated period.
            sites = store.query('SHOW TAG VALUES WITH KEY = "site" WHERE "tenant" = \'farmco\'')
            every_site = [value for _, value in sites[0]["series"][0]["values"]]
            researcher = keys.create("farmco", Role.RESEARCHER, sites=every_site)[1]
            port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("SHINSHU_")}
            env.update(
                SHINSHU_INFLUX_URL=influx.url,
                SHINSHU_INFLUX_DB="bench",
                SHINSHU_DATA_DIR=folder,
                SHINSHU_LOG_LEVEL="WARNING",
                SHINSHU_API_RATE_PER_S="100000",
                SHINSHU_API_RATE_BURST="100000",
                SHINSHU_API_AGGREGATE_TTL_S="0" if args.no_cache else "5",
            )
            server = subprocess.Popen(
                [sys.executable, "-m", "dashboard.cli", "serve", "--port", str(port)], env=env
            )
            base = f"http://127.0.0.1:{port}/api/v1/tenants"
            for _ in range(300):
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            limits = httpx.Limits(max_connections=20)
            farm = httpx.Client(headers={"X-API-Key": tokens["farmco"]}, limits=limits, timeout=30)
            fleet = httpx.Client(headers={"X-API-Key": tokens["fleet"]}, limits=limits, timeout=30)
            sensor = farm.get(f"{base}/farmco/devices").json()[0]
            s0 = sensor["sensors"][0]["sensor"]
            device = f"{base}/farmco/sites/{sensor['site']}/devices/{sensor['device']}"
            url = f"{device}/sensors/{s0}/aggregates"
            window = {
                "start": "2025-01-08T00:00:00Z",
                "end": "2025-01-15T00:00:00Z",
                "interval": "1h",
            }
            _report("7-day hourly aggregate", _latency(farm, url, window, args.requests))
            devices = fleet.get(f"{base}/fleet/devices").json()
            assert len(devices) == 500, len(devices)
            _report(
                "latest status of 500 devices",
                _latency(fleet, f"{base}/fleet/devices", {}, args.requests),
            )
            end = (START + dt.timedelta(days=args.export_days)).isoformat()
            for fmt in ("csv", "parquet"):
                began = time.perf_counter()
                size = 0
                with httpx.stream(
                    "GET",
                    f"{base}/farmco/exports/readings.{fmt}",
                    params={"start": START.isoformat(), "end": end},
                    headers={"X-API-Key": researcher},
                    timeout=600,
                ) as response:
                    for chunk in response.iter_raw():
                        size += len(chunk)
                elapsed = time.perf_counter() - began
                rows = int(
                    next(
                        line.split()[-1]
                        for line in httpx.get(f"http://127.0.0.1:{port}/metrics").text.splitlines()
                        if line.startswith(f'shinshu_api_export_rows_total{{format="{fmt}"}}')
                    ).split(".")[0]
                )
                rate = rows / elapsed
                print(
                    f"export {fmt}: {rows:,} rows, {size / 2**20:.1f} MB in {elapsed:.2f} s "
                    f"= {rate:,.0f} rows/s (target >= 200,000)"
                )
        finally:
            if server is not None:
                server.terminate()
                server.wait(30)
            influx.stop()


if __name__ == "__main__":
    main()
