"""Web UI benchmark: first contentful paint and bytes transferred per page, cold cache.

Starts a private InfluxDB with simulated farms, stands and factories, serves the app with
`shinshu serve` (as `dashboard.cli`), and loads every page of the UI in Debian's headless
Chromium (driven by Playwright), each time in a fresh browser context so nothing is cached.
Targets: first contentful paint under 1 s on localhost; largest page under 500 KB.

Usage: python bench/ui.py [--runs 10] [--days 30]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import Browser, sync_playwright

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench._serve import serve, server_env  # noqa: E402
from core.time import MS_PER_DAY  # noqa: E402
from dashboard.keys import KeyStore, Role  # noqa: E402
from shinshu.localservices import LocalInfluxDB, free_port  # noqa: E402
from simulators.backfill import backfill  # noqa: E402
from simulators.scenario import Scenario, Truth  # noqa: E402
from storage.influx.client import InfluxStore  # noqa: E402
from tests.browser.ui_support import CHROMIUM, CHROMIUM_ARGS, site_kinds  # noqa: E402

START = dt.datetime(2025, 5, 1, tzinfo=dt.UTC)
FCP_TARGET_MS = 1000.0
BYTES_TARGET = 500_000
_FCP = "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"


def _load(browser: Browser, url: str, token: str | None) -> tuple[float | None, int, float]:
    """FCP (ms), bytes transferred and time until the page's data settled (s), cold cache."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    if token:
        context.add_init_script(f"sessionStorage.setItem('shinshu.apiKey', {token!r})")
    page = context.new_page()
    finished = []
    # Playwright tags the handler with an attribute: a bound builtin like `list.append` cannot be.
    page.on("requestfinished", lambda request: finished.append(request))  # noqa: PLW0108
    began = time.perf_counter()
    page.goto(url)
    page.wait_for_load_state("networkidle")
    settled = time.perf_counter() - began
    fcp = page.evaluate(_FCP)
    total = 0
    for request in finished:
        sizes = request.sizes()
        total += sizes["responseBodySize"] + sizes["responseHeadersSize"]
    context.close()
    return fcp, total, settled


def main() -> None:
    """Fill a store, serve the app, load each page `--runs` times, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="cold loads per page")
    parser.add_argument("--days", type=int, default=30, help="days of simulated history")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        influx = LocalInfluxDB("influxd", Path(folder), free_port())
        influx.start()
        try:
            store = InfluxStore(httpx.Client(base_url=influx.url, timeout=60), "bench")
            store.ensure_database()
            start_ms = int(START.timestamp() * 1000)
            scenario = Scenario(3, 2, 2, start_ms, args.days * MS_PER_DAY, 600_000, seed=1)
            print(f"simulating {args.days} days of 3 farms, 2 stands, 2 factories ...")
            backfill(scenario, store, "farmco", Truth(), progress=lambda _l: None)
            sites = site_kinds(store, "farmco")
            keys = KeyStore(Path(folder) / "api_keys.sqlite3")
            viewer = keys.create("farmco", Role.VIEWER)[1]
            researcher = keys.create("farmco", Role.RESEARCHER, sites=sorted(sites.values()))[1]
            keys.close()
            with serve(server_env(influx.url, folder)) as (base, _pid):
                _measure(base, sites, viewer, researcher, args.runs)
        finally:
            influx.stop()


def _measure(base: str, sites: dict[str, str], viewer: str, researcher: str, runs: int) -> None:
    """Load every page `runs` times in cold contexts and print FCP, settle time and size."""
    pages = {
        "signin": ("/signin", None),
        "overview": ("/", viewer),
        "farm": (f"/farm/{sites['farm']}", viewer),
        "forest": (f"/forest/{sites['forest']}", viewer),
        "factory": (f"/factory/{sites['factory']}", viewer),
        "export": ("/export", researcher),
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        _load(browser, f"{base}/#/signin", None)  # warm the server, not the browser
        print(f"{'page':10} {'FCP p50':>9} {'FCP max':>9} {'settled p50':>12} {'kB':>8}")
        worst_fcp, worst_bytes = 0.0, 0
        for name, (route, token) in pages.items():
            samples = [_load(browser, f"{base}/#{route}", token) for _ in range(runs)]
            fcps = [r[0] for r in samples if r[0] is not None]
            size = max(r[1] for r in samples)
            settled = statistics.median(r[2] for r in samples)
            worst_fcp = max(worst_fcp, *fcps)
            worst_bytes = max(worst_bytes, size)
            print(
                f"{name:10} {statistics.median(fcps):7.0f}ms {max(fcps):7.0f}ms "
                f"{settled * 1000:10.0f}ms {size / 1000:8.1f}"
            )
        browser.close()
    fcp_ok = "ok" if worst_fcp < FCP_TARGET_MS else "MISSED"
    size_ok = "ok" if worst_bytes < BYTES_TARGET else "MISSED"
    print(f"worst FCP {worst_fcp:.0f} ms (target < {FCP_TARGET_MS:.0f}): {fcp_ok}")
    print(f"largest page {worst_bytes / 1000:.1f} kB (target < 500): {size_ok}")


if __name__ == "__main__":
    main()
