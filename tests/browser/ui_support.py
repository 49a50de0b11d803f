"""Helpers of the browser tests: the served app's handle, page probes, screenshots, pages.

The server is the real application (`dashboard.app.create_app`) on uvicorn in a thread, over a
real InfluxDB backfilled by the simulators; the browser is Debian's Chromium driven by
Playwright. Screenshots go to `tests/browser/artifacts/` (or `$SHINSHU_UI_ARTIFACTS`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, ConsoleMessage, Page, Request

from dashboard.keys import Role
from simulators.scenario import Scenario
from storage.alert_types import Alert, AlertKind
from storage.alerts import AlertStore
from storage.influx.client import InfluxStore

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Five weeks from early May: the lettuce field's spring planting (early May) is in its season
# at the end, so the farm page has a harvest forecast to show.
START = dt.datetime(2025, 5, 1, tzinfo=dt.UTC)
START_MS = int(START.timestamp() * 1000)
DAYS = 35
END_MS = START_MS + DAYS * 86_400_000
SCENARIOS = {
    "alpha": Scenario(1, 1, 1, START_MS, DAYS * 86_400_000, 600_000, seed=11),
    "beta": Scenario(1, 1, 1, START_MS, DAYS * 86_400_000, 600_000, seed=22),
}
# [start, end) in ms of the farm's soil-moisture outage made by the fixture.
OUTAGE = (END_MS - 48 * 3_600_000, END_MS - 42 * 3_600_000)
VIEWPORTS = {"phone": (360, 740), "desktop": (1440, 900)}
ARTIFACTS = Path(os.environ.get("SHINSHU_UI_ARTIFACTS", Path(__file__).parent / "artifacts"))


@dataclass
class UiEnv:
    """The served app: its URL, the store behind it, a token per role of tenant alpha."""

    url: str
    store: InfluxStore
    tokens: dict[Role, str]
    sites: dict[str, str]  # kind (farm, forest, factory) -> site id of tenant alpha
    app: Any
    data_dir: Path  # the server's data folder (keys, model registries)

    def token(self, role: Role) -> str:
        """The token of alpha's key with `role`."""
        return self.tokens[role]


def site_kinds(store: InfluxStore, tenant: str) -> dict[str, str]:
    """The first farm, forest and factory site of `tenant`, from what their sensors measure."""
    found: dict[str, str] = {}
    for kind, measurement in (
        ("factory", "bin_weight"),
        ("forest", "stem_radius"),
        ("farm", "leaf_wetness"),
    ):
        answer = store.query(
            f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "site" WHERE "tenant" = \'{tenant}\''
        )
        found[kind] = sorted(v for _, v in answer[0]["series"][0]["values"])[0]
    return found


def inject_alert(store: InfluxStore, site: str, sensor: str, at_ms: int, kind: AlertKind) -> str:
    """Store an alert as the alert service does on detecting an anomaly; returns its id."""
    alert = Alert("alpha", site, "stock-gateway", sensor, kind, at_ms, 0.87, "weight fell", at_ms)
    AlertStore(store).write([alert])
    return alert.id


def bin_sensors(store: InfluxStore, site: str) -> list[str]:
    """The weight sensors of alpha's factory `site`, from the store."""
    answer = store.query(
        f'SHOW TAG VALUES FROM "bin_weight" WITH KEY = "sensor" '
        f"WHERE \"tenant\" = 'alpha' AND \"site\" = '{site}'"
    )
    return sorted(v for _, v in answer[0]["series"][0]["values"])


@dataclass
class Probe:
    """A page and everything that went wrong while it loaded."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    responses: list[Request] = field(default_factory=list)

    def transferred_bytes(self) -> int:
        """Bytes of every finished response (headers and body) as the network delivered them."""
        total = 0
        for request in self.responses:
            sizes = request.sizes()
            total += sizes["responseBodySize"] + sizes["responseHeadersSize"]
        return total

    def clean(self) -> None:
        """Assert no console error and no failed request so far."""
        assert not self.console_errors, self.console_errors
        assert not self.failed_requests, self.failed_requests


def wait_js(page: Page, expression: str, timeout_s: float = 15.0) -> None:
    """Until `expression` is true in the page, polled from here.

    Playwright's own `wait_for_function` compiles its predicate in the page, which the UI's
    Content-Security-Policy (no 'unsafe-eval') rightly refuses.
    """
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout_s} s: {expression}")
        time.sleep(0.05)


def choose(page: Page, select: str, value: str) -> None:
    """Pick `value` in the `select` and wait until no list on the page is still loading."""
    page.select_option(select, value)
    wait_js(page, "!document.querySelector('[aria-busy=true]')")


def wait_idle(page: Page) -> None:
    """Until the page's network is quiet and the app finished rendering its route."""
    page.wait_for_load_state("networkidle")
    wait_js(page, "!document.querySelector('#app').textContent.includes('…')")
    page.wait_for_load_state("networkidle")


@dataclass
class Browse:
    """Opens app pages as a given role, language and viewport, watching for errors."""

    env: UiEnv
    browser: Browser
    contexts: list[Any] = field(default_factory=list)

    def open(
        self,
        route: str,
        *,
        role: Role | None = Role.VIEWER,
        lang: str = "ja",
        viewport: str = "desktop",
        wait: bool = True,
        key: str | None = None,
    ) -> Probe:
        """A fresh browser context signed in as alpha's `role` key (or `key`), at `#{route}`."""
        width, height = VIEWPORTS[viewport]
        context = self.browser.new_context(
            viewport={"width": width, "height": height}, locale="ja-JP", timezone_id="UTC"
        )
        self.contexts.append(context)
        if key is None:
            key = self.env.token(role) if role is not None else ""
        token = json.dumps(key)
        # Before any page script: the session key (as the sign-in form leaves it) and language.
        context.add_init_script(
            f"if (!sessionStorage.getItem('shinshu.init')) {{"
            f"  sessionStorage.setItem('shinshu.init', '1');"
            f"  if ({token}) sessionStorage.setItem('shinshu.apiKey', {token});"
            f"  localStorage.setItem('shinshu.lang', {json.dumps(lang)});"
            f"}}"
        )
        page = context.new_page()
        probe = Probe(page)
        page.on("console", lambda m: _console(probe, m))
        page.on("pageerror", lambda e: probe.console_errors.append(f"pageerror: {e}"))
        page.on("requestfailed", lambda r: probe.failed_requests.append(f"{r.url} {r.failure}"))
        page.on("requestfinished", lambda r: _finished(probe, r))
        page.goto(f"{self.env.url}/#{route}")
        if wait:
            wait_idle(page)
        return probe

    def close(self) -> None:
        """Close every context opened."""
        for context in self.contexts:
            context.close()


def _console(probe: Probe, message: ConsoleMessage) -> None:
    if message.type == "error":
        probe.console_errors.append(message.text)


def _finished(probe: Probe, request: Request) -> None:
    probe.responses.append(request)
    response = request.response()
    if response is not None and response.status >= 400:
        probe.failed_requests.append(f"{request.method} {request.url} -> {response.status}")


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as an artefact and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# name -> (route with {farm}/{forest}/{factory} placeholders, role signed in, or None)
PAGES: dict[str, tuple[str, Role | None]] = {
    "signin": ("/signin", None),
    "overview": ("/", Role.VIEWER),
    "farm": ("/farm/{farm}", Role.VIEWER),
    "forest": ("/forest/{forest}", Role.VIEWER),
    "factory": ("/factory/{factory}", Role.OPERATOR),
    "export": ("/export", Role.RESEARCHER),
    "registry": ("/registry", Role.OPERATOR),
    "research": ("/research", Role.ADMIN),
}


def route_of(name: str, sites: dict[str, str]) -> str:
    """The hash route of page `name` with the tenant's real site ids."""
    return PAGES[name][0].format(**sites)
