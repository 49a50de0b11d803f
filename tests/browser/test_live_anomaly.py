"""The whole chain in a browser: a theft the live simulator injects shows on the factory page.

A week of a factory's history is backfilled; then the same scenario continues live through a
real edge agent, ingest and `shinshu alerts`, with a theft scheduled in one bin. The factory
page, open the whole time, must show the alert within 15 s of the theft's reading reaching the
store, and an operator acknowledges it there.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import httpx
import pytest
from browser.ui_support import Browse
from support import AlertsFactory, IngestFactory, Services, wait_until

from dashboard.keys import Role
from simulators.accounts import issuer_of
from simulators.backfill import backfill
from simulators.factory import DEFAULT_FACTORIES
from simulators.faults import Fault, FaultKind
from simulators.live import LivePlan, run_live
from simulators.scenario import Scenario, Truth

pytestmark = pytest.mark.integration

TENANT = "live-factory"
STEP_MS = 600_000
HISTORY_MS = 8 * 86_400_000
LIVE_STEPS = 36
THEFT_STEP = 6
ACCEL = 1_200.0  # one 10-minute step every 0.5 s
WITHIN_S = 15.0


def _theft_alert(url: str, key: str, sensor: str, after_ms: int) -> dict[str, object] | None:
    answer = httpx.get(
        f"{url}/api/v1/tenants/{TENANT}/alerts",
        params={"state": "all"},
        headers={"X-API-Key": key},
        timeout=10,
    )
    answer.raise_for_status()
    for alert in answer.json():
        if alert["kind"] == "drop" and alert["sensor"] == sensor:
            raised = dt.datetime.fromisoformat(alert["raised_at"].replace("Z", "+00:00"))
            if raised.timestamp() * 1000 >= after_ms:
                return dict(alert)
    return None


def _stored(browse: Browse, site: str, sensor: str, ts_ms: int) -> bool:
    answer = browse.env.store.query(
        f'SELECT "value" FROM "bin_weight" WHERE "tenant" = \'{TENANT}\' AND '
        f"\"site\" = '{site}' AND \"sensor\" = '{sensor}' AND time = {ts_ms}ms"
    )
    return bool(answer[0].get("series"))


def test_simulated_theft_appears_on_the_factory_page_and_is_acknowledged(
    services: Services,
    ingest_factory: IngestFactory,
    alerts_factory: AlertsFactory,
    browse: Browse,
    tmp_path: Path,
) -> None:
    """Theft → edge agent → ingest → alerts service → API → page within 15 s → acknowledged."""
    env = browse.env
    database = env.store.database
    factory = DEFAULT_FACTORIES[0]
    stolen_bin = factory.bins[0].name
    sensor = f"{stolen_bin}_weight"
    now_ms = int(time.time() * 1000)
    # The live part must end in the past (ingest refuses the future) despite the drain margin.
    end_ms = (now_ms - 3_600_000) // STEP_MS * STEP_MS
    begin_ms = end_ms - LIVE_STEPS * STEP_MS
    start_ms = begin_ms - HISTORY_MS
    scenario = Scenario(0, 0, 1, start_ms, end_ms - start_ms, STEP_MS, seed=7)
    truth = Truth()
    report = backfill(
        scenario, env.store, TENANT, truth, progress=lambda _line: None, until_ms=begin_ms
    )
    assert report.refused == 0 and report.readings > 0
    # The simulator's own labelled anomalies stay out of the live part, so the alert is ours.
    assert not [a for a in truth.anomalies if a.end_ms >= begin_ms and a.start_ms < end_ms]

    ingest_factory(services, database)
    alerts_factory(services, database)
    keys = env.app.state.context.keys
    operator = keys.create(TENANT, Role.OPERATOR, name="live operator")[1]
    viewer = keys.create(TENANT, Role.VIEWER, name="live viewer")[1]
    probe = browse.open(f"/factory/{factory.site}", key=operator)
    page = probe.page
    assert page.locator("[data-alert-id]").count() == 0

    theft_ms = begin_ms + THEFT_STEP * STEP_MS
    theft = Fault(factory.site, FaultKind.THEFT, theft_ms, theft_ms, bin=stolen_bin, fraction=0.3)
    plan = LivePlan(scenario, ACCEL, TENANT, tmp_path / "live", (theft,), begin_ms=begin_ms)
    stop = threading.Event()
    live_truth = Truth()
    runner = threading.Thread(
        target=run_live,
        args=(plan, services.broker.url, live_truth),
        kwargs={
            "stop": stop,
            "progress": lambda _line: None,
            # The agents log in with accounts the registry issues, as in the demo.
            "issue_secrets": issuer_of(services.accounts),
        },
        daemon=True,
    )
    runner.start()
    try:
        wait_until(lambda: _stored(browse, factory.site, sensor, theft_ms), 60, "the theft")
        stored_at = time.monotonic()
        alert: dict[str, object] | None = None

        def found() -> bool:
            nonlocal alert
            alert = _theft_alert(env.url, viewer, sensor, theft_ms)
            return alert is not None

        wait_until(found, WITHIN_S, "the theft's alert in the API")
        assert alert is not None
        card = page.locator(f'[data-alert-id="{alert["id"]}"]')
        card.wait_for(timeout=max(0.0, WITHIN_S - (time.monotonic() - stored_at)) * 1000)
        shown_after = time.monotonic() - stored_at
        print(f"theft shown on the factory page {shown_after:.1f} s after its reading was stored")
        assert shown_after <= WITHIN_S
        card.locator("button[data-ack]").click()
        card.wait_for(state="detached")
        wait_until(
            lambda: (
                (a := _theft_alert(env.url, viewer, sensor, theft_ms)) is not None
                and a["acknowledged_at"] is not None
            ),
            10,
            "the acknowledgement in the API",
        )
    finally:
        stop.set()
        runner.join(60)
    probe.clean()
