"""Backfill benchmark: one simulated year of 10 farms, 5 forest stands and 3 factories at
10-minute intervals into a private InfluxDB. Target: under 2 minutes on a 2-core machine.

Usage: python bench/simulate.py [--days 365]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from core.time import MS_PER_DAY  # noqa: E402
from shinshu.localservices import start_pair  # noqa: E402
from simulators.backfill import backfill  # noqa: E402
from simulators.scenario import Scenario, Truth  # noqa: E402
from storage.influx.client import InfluxStore  # noqa: E402


def main() -> None:
    """Run the backfill on private services and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=365.0)
    args = parser.parse_args()
    start = int(dt.datetime(2025, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)
    scenario = Scenario(10, 5, 3, start, int(args.days * MS_PER_DAY), 600_000, seed=1)
    with tempfile.TemporaryDirectory() as folder:
        broker, influx = start_pair(Path(folder))
        try:
            store = InfluxStore(httpx.Client(base_url=influx.url, timeout=120), "backfill")
            store.ensure_database()
            truth = Truth()
            began = time.perf_counter()
            report = backfill(scenario, store, "bench", truth, progress=lambda _l: None)
            elapsed = time.perf_counter() - began
            stored = store.count_points()
        finally:
            influx.stop()
            broker.stop()
    print(f"backfill of {args.days:g} days, 18 sites, 10-minute readings")
    print(f"    readings simulated and written: {report.readings:,}; stored: {stored:,}")
    print(
        f"    time: {elapsed:.1f} s ({report.readings / elapsed:,.0f} readings/s); target < 120 s"
    )
    print(
        f"    truth: {len(truth.seasons)} crop seasons, {len(truth.stands)} stand-years, "
        f"{len(truth.anomalies)} factory anomalies"
    )


if __name__ == "__main__":
    main()
