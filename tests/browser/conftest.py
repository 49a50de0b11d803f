"""Fixtures of the browser tests: the app served over simulated data, headless Chromium."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from browser.ui_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    OUTAGE,
    SCENARIOS,
    START_MS,
    Browse,
    UiEnv,
    bin_sensors,
    inject_alert,
    site_kinds,
)
from playwright.sync_api import Browser, sync_playwright
from support import Services, make_influx

from core.settings import Settings, load_api_settings
from dashboard.app import create_app
from dashboard.keys import Role
from shinshu.localservices import free_port
from shinshu.webthread import serve_in_thread
from simulators.backfill import backfill
from simulators.scenario import Truth
from storage.alert_types import AlertKind


@pytest.fixture(scope="session")
def ui_env(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiEnv]:
    """Two tenants of simulated data, keys of every role for alpha, the app served on a port."""
    yield from served_ui(services, tmp_path_factory)


@pytest.fixture(scope="module")
def own_ui_env(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiEnv]:
    """The same as `ui_env` on a database of the module's own, for tests that must know the
    newest reading: other tests of the session store readings stamped now in `ui_env`."""
    yield from served_ui(services, tmp_path_factory)


def served_ui(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiEnv]:
    """Simulated data in a new database and the app serving it, until the generator closes."""
    database = f"ui_{uuid.uuid4().hex[:10]}"
    store = make_influx(services.influx, database)
    store.ensure_database()
    for tenant, scenario in SCENARIOS.items():
        report = backfill(scenario, store, tenant, Truth(), progress=lambda _line: None)
        assert report.refused == 0
    base = Settings(
        mqtt_url=services.broker.url,
        mqtt_password_file=services.broker.secrets_path / "shinshu-api.secret",
        control_password_file=services.broker.secrets_path / "shinshu-control.secret",
        influx_url=services.influx.url,
        influx_db=database,
        data_dir=tmp_path_factory.mktemp("ui"),
        notify_vapid_contact="mailto:ops@shinshu.example",
    )
    # Many pages load in quick succession from one key; the budget is not what is tested here.
    # A short catalogue cache lets a new reading show up within one poll.
    settings = load_api_settings(
        base,
        env={
            "SHINSHU_API_RATE_PER_S": "100000",
            "SHINSHU_API_RATE_BURST": "100000",
            "SHINSHU_API_CATALOGUE_TTL_S": "1",
        },
    )
    app = create_app(settings)
    keys = app.state.context.keys
    sites = site_kinds(store, "alpha")
    # A sensor outage, so that charts have a real gap to show: the farm's soil moisture is
    # missing for six hours on the second day.
    outage_from, outage_to = OUTAGE
    store.query(
        f'DELETE FROM "soil_moisture" WHERE "tenant" = \'alpha\' AND "site" = \'{sites["farm"]}\''
        f" AND time >= {outage_from}ms AND time < {outage_to}ms"
    )
    # One open alert from the start, as the detector would have raised it during the backfill.
    seeded_at = START_MS + 86_400_000
    sensor = bin_sensors(store, sites["factory"])[0]
    inject_alert(store, sites["factory"], sensor, seeded_at, AlertKind.DROP)
    tokens = {
        role: keys.create(
            "alpha",
            role,
            name=f"ui {role}",
            sites=sorted(sites.values()) if role is Role.RESEARCHER else (),
        )[1]
        for role in Role
    }
    port = free_port()
    server, thread = serve_in_thread(app, port, timeout_s=20, log_level="warning")
    assert server.started, "the UI server did not start"
    yield UiEnv(f"http://127.0.0.1:{port}", store, tokens, sites, app, settings.store.data_path)
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def browse(ui_env: UiEnv, browser: Browser) -> Iterator[Browse]:
    """Open pages; every context is closed after the test."""
    yield from _browsing(ui_env, browser)


@pytest.fixture
def own_browse(own_ui_env: UiEnv, browser: Browser) -> Iterator[Browse]:
    """`browse` over the module's own data (`own_ui_env`)."""
    yield from _browsing(own_ui_env, browser)


def _browsing(env: UiEnv, browser: Browser) -> Iterator[Browse]:
    helper = Browse(env, browser)
    yield helper
    helper.close()
