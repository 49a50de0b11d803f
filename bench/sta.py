"""SensorThings API benchmark against a private InfluxDB holding a year of one Datastream.

The API server runs as its own process (`python -m dashboard.cli serve`) and is read over HTTP
as a SensorThings client reads it. Measured:
(a) every Observation of the year read by following the `@iot.nextLink` the server returns,
    at the largest page the server allows (and the first pages at the default page size);
(b) a `$filter` on phenomenonTime (windows of a day, a week and a month at random places in
    the year), the first page and with `$count=true`, one client after another.
Targets: (a) >= 100,000 Observations/s end to end; (b) p99 < 200 ms.

Usage: python bench/sta.py [--interval-s 60] [--other-streams 4] [--requests 300] [--runs 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench._serve import serve, server_env  # noqa: E402
from core.time import MS_PER_DAY  # noqa: E402
from dashboard.keys import KeyStore, Role  # noqa: E402
from dashboard.sta.ids import make_id  # noqa: E402
from dashboard.sta.options import DEFAULT_TOP, MAX_TOP  # noqa: E402
from edge.protocol import DeviceTopic, SensorKind  # noqa: E402
from shinshu.localservices import LocalInfluxDB, free_port  # noqa: E402
from storage.batch import ChannelReadings  # noqa: E402
from storage.influx.client import InfluxStore  # noqa: E402

TENANT = "benchco"
START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
START_MS = int(START.timestamp() * 1000)
YEAR_MS = 365 * MS_PER_DAY
CHUNK = 50_000
PAGING_TARGET = 100_000  # Observations per second
FILTER_TARGET_MS = 200.0  # p99
WINDOWS = {"day": 1, "week": 7, "month": 30}


def _write_year(store: InfluxStore, device: str, interval_ms: int, seed: int) -> int:
    """A year of one air-temperature channel at `interval_ms`; the number of points."""
    times = np.arange(START_MS, START_MS + YEAR_MS, interval_ms, dtype=np.int64)
    rng = np.random.default_rng(seed)
    # A daily cycle and noise, rounded as a sensor reports: values need not be realistic,
    # only varied, so the answer's encoding costs what a real series' does.
    day = 2 * np.pi * (times - START_MS) / MS_PER_DAY
    values = np.round(10 + 8 * np.sin(day) + rng.normal(0, 0.5, len(times)), 2)
    topic = DeviceTopic(TENANT, "site-a", device)
    for begin in range(0, len(times), CHUNK):
        part = slice(begin, begin + CHUNK)
        channel = ChannelReadings(
            topic, "t1", SensorKind.AIR_TEMPERATURE, times[part].tolist(), values[part].tolist()
        )
        refused = store.write_channel(channel)
        assert not refused, refused[:3]
    return len(times)


def _page_through(client: httpx.Client, url: str) -> tuple[int, int, float]:
    """(Observations, pages, seconds) reading `url` and every nextLink after it."""
    began = time.perf_counter()
    count = pages = 0
    next_url: str | None = url
    while next_url:
        response = client.get(next_url)
        response.raise_for_status()
        document = response.json()
        count += len(document["value"])
        pages += 1
        next_url = document.get("@iot.nextLink")
    return count, pages, time.perf_counter() - began


def _paging(client: httpx.Client, observations: str, expected: int, *, runs: int, pid: int) -> None:
    """Read the whole year through nextLinks at MAX_TOP, `runs` times; then default pages."""
    rates = []
    server = psutil.Process(pid)
    for run in range(runs):
        cpu = server.cpu_times()
        count, pages, seconds = _page_through(client, f"{observations}?$top={MAX_TOP}")
        used = sum(server.cpu_times()[:2]) - sum(cpu[:2])
        assert count == expected, (count, expected)
        rates.append(count / seconds)
        print(
            f"  run {run + 1}: {count:,} Observations in {pages} pages of {MAX_TOP:,}, "
            f"{seconds:.2f} s = {count / seconds:,.0f} Observations/s; server CPU "
            f"{used / count * 1e6:.1f} µs an Observation (load average {os.getloadavg()[0]:.2f})"
        )
    best, median = max(rates), statistics.median(rates)
    verdict = "holds" if median >= PAGING_TARGET else "does NOT hold"
    print(
        f"paging at $top={MAX_TOP:,}: median {median:,.0f}, best {best:,.0f} Observations/s "
        f"(target >= {PAGING_TARGET:,}: {verdict})"
    )
    # The default page size: how fast a client that does not ask for more goes, over the first
    # 200 pages (the whole year would be thousands of requests of 100).
    began = time.perf_counter()
    count, next_url = 0, f"{observations}"
    for _ in range(200):
        document = client.get(next_url).raise_for_status().json()
        count += len(document["value"])
        next_url = document.get("@iot.nextLink")
        if not next_url:
            break
    seconds = time.perf_counter() - began
    print(
        f"paging at the default $top={DEFAULT_TOP}: {count:,} Observations in {seconds:.2f} s "
        f"= {count / seconds:,.0f} Observations/s (first 200 pages; not the target's page size)"
    )


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat().replace("+00:00", "Z")


def _filter_params(rng: random.Random, days: int, extra: dict[str, str]) -> dict[str, str]:
    """A window of `days` days starting at a random minute inside the year."""
    latest = YEAR_MS - days * MS_PER_DAY
    start = START_MS + rng.randrange(0, latest // 60_000) * 60_000
    end = start + days * MS_PER_DAY
    text = f"phenomenonTime ge {_iso(start)} and phenomenonTime lt {_iso(end)}"
    return {"$filter": text, **extra}


def _filters(client: httpx.Client, observations: str, requests: int) -> None:
    """p50/p99 of time-window filters over the year: the first page, and with a count.

    The target is for a filter's page (the default $top, with or without a count, in either
    order); a page of MAX_TOP is shown too, but it is a bulk read, measured by (a).
    """
    rng = random.Random(7)
    variants: list[tuple[str, dict[str, str]]] = [
        (f"first page ($top={DEFAULT_TOP})", {}),
        ("first page with $count=true", {"$count": "true"}),
        ("first page newest first", {"$orderby": "phenomenonTime desc"}),
        (f"$top={MAX_TOP:,} (not the target)", {"$top": str(MAX_TOP)}),
    ]
    worst = 0.0
    for label, extra in variants:
        for name, days in WINDOWS.items():
            for _ in range(10):  # warm-up
                client.get(observations, params=_filter_params(rng, days, extra)).raise_for_status()
            samples = []
            sizes = []
            for _ in range(requests):
                params = _filter_params(rng, days, extra)
                began = time.perf_counter()
                response = client.get(observations, params=params)
                response.raise_for_status()
                samples.append(time.perf_counter() - began)
                sizes.append(len(response.json()["value"]))
            cuts = statistics.quantiles(samples, n=100)
            if "$top" not in extra:
                worst = max(worst, cuts[98] * 1000)
            print(
                f"filter {name} window, {label}: p50 {cuts[49] * 1000:.1f} ms, "
                f"p99 {cuts[98] * 1000:.1f} ms ({statistics.mean(sizes):,.0f} Observations a "
                "response)"
            )
    verdict = "holds" if worst < FILTER_TARGET_MS else "does NOT hold"
    print(
        f"filter on phenomenonTime, a page of {DEFAULT_TOP}: worst p99 {worst:.1f} ms "
        f"(target < 200 ms: {verdict}); load average {os.getloadavg()[0]:.2f}"
    )


def main() -> None:
    """Start InfluxDB and the API, load the year, measure, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval-s", type=int, default=60, help="spacing of the year's points")
    parser.add_argument(
        "--other-streams", type=int, default=4, help="more Datastreams of a year at 10 min"
    )
    parser.add_argument("--requests", type=int, default=300, help="filter requests per variant")
    parser.add_argument("--runs", type=int, default=3, help="reads of the whole year")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    print(f"page size: default $top {DEFAULT_TOP}, largest $top the server allows {MAX_TOP:,}")
    with tempfile.TemporaryDirectory() as folder:
        influx = LocalInfluxDB("influxd", Path(folder), free_port())
        influx.start()
        try:
            store = InfluxStore(httpx.Client(base_url=influx.url, timeout=300), "bench")
            store.ensure_database()
            began = time.perf_counter()
            points = _write_year(store, "dev-year", args.interval_s * 1000, seed=1)
            others = sum(
                _write_year(store, f"dev-{i}", 600_000, seed=2 + i)
                for i in range(args.other_streams)
            )
            print(
                f"stored {points:,} points of one Datastream (every {args.interval_s} s for "
                f"365 days) and {others:,} of {args.other_streams} others "
                f"in {time.perf_counter() - began:.1f} s"
            )
            keys = KeyStore(Path(folder) / "api_keys.sqlite3")
            token = keys.create(TENANT, Role.VIEWER)[1]
            with serve(server_env(influx.url, folder)) as (url, pid):
                stream = make_id(TENANT, "site-a", "dev-year", "t1")
                observations = f"{url}/sta/v1.1/Datastreams('{stream}')/Observations"
                headers: dict[str, Any] = {"X-API-Key": token}
                with httpx.Client(headers=headers, timeout=120) as client:
                    _paging(client, observations, points, runs=args.runs, pid=pid)
                    _filters(client, observations, args.requests)
        finally:
            influx.stop()
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
