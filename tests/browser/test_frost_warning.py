"""The frost warning in the browser: an orchard's spring with a radiation frost at pink bud is
stored, the frost watch runs at each issue time on the readings up to then, and its warning
appears in the inbox, explained, and is acknowledged by an operator."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from browser.ui_support import Browse, choose, wait_js

from core.time import JST
from dashboard.keys import Role
from models.frost.watch import replay_nights
from simulators.backfill import backfill
from simulators.events import EventKind, WeatherEvent
from simulators.scenario import Scenario, Truth
from storage.alerts import AlertStore

pytestmark = pytest.mark.integration

TENANT = "orchard-co"
ORCHARD = "suzaka-01"
NIGHT = dt.datetime(2025, 5, 1, 18, tzinfo=JST)


def _spring_with_a_frost(browse: Browse) -> list[str]:
    """March to mid-May of the orchard with a −4 °C night on May 1; the watch replayed at each
    issue time of April 30 to May 2. Returns the ids of the alerts it wrote."""
    store = browse.env.store
    first = int(dt.datetime(2025, 3, 1, tzinfo=JST).timestamp() * 1000)
    last = int(dt.datetime(2025, 5, 10, tzinfo=JST).timestamp() * 1000)
    frost = WeatherEvent(ORCHARD, EventKind.FROST_NIGHT, int(NIGHT.timestamp() * 1000), -4.0)
    spring = Scenario(
        1, 0, 0, first, last - first, 600_000, 7, events=(frost,), farm_sites=(ORCHARD,)
    )
    assert backfill(spring, store, TENANT, Truth(), progress=lambda _l: None).refused == 0
    days = [NIGHT.date() + dt.timedelta(days=d) for d in (-1, 0, 1)]
    return [a.id for a in replay_nights(store, AlertStore(store), days)]


def test_the_frost_warning_appears_and_is_acknowledged(browse: Browse) -> None:
    """The frost night's warning is in the inbox, in Japanese with the forecast and the bud
    stage's critical temperature; the operator acknowledges it with a note; in English the
    viewer reads the same warning, acknowledged."""
    raised = _spring_with_a_frost(browse)
    assert raised, "the frost watch warned for no night"
    keys = browse.env.app.state.context.keys
    operator = keys.create(TENANT, Role.OPERATOR, name="orchard operator")[1]
    viewer = keys.create(TENANT, Role.VIEWER, name="orchard viewer")[1]
    probe = browse.open("/alerts", key=operator, lang="ja", viewport="phone")
    page = probe.page
    choose(page, "#inbox-filters [name=kind]", "frost_risk")
    alert_id = raised[0]
    card = page.locator(f'[data-alert-id="{alert_id}"]')
    card.wait_for()
    text = card.inner_text()
    assert "霜" in text and "°C" in text and "ピンク" in text, text
    card.locator("[name=note]").fill("防霜ファンを運転")
    card.locator("button[value=acknowledge]").click()
    wait_js(page, f"!document.querySelector('[data-alert-id=\"{alert_id}\"]')")
    answer = httpx.get(
        f"{browse.env.url}/api/v1/tenants/{TENANT}/alerts",
        params={"state": "acknowledged", "kind": "frost_risk"},
        headers={"X-API-Key": viewer},
    )
    (done,) = [a for a in answer.json() if a["id"] == alert_id]
    assert done["acknowledged_note"] == "防霜ファンを運転"
    assert not probe.console_errors, probe.console_errors
    english = browse.open("/alerts", key=viewer, lang="en")
    choose(english.page, "#inbox-filters [name=state]", "acknowledged")
    seen = english.page.locator(f'[data-alert-id="{alert_id}"]')
    seen.wait_for()
    assert "frost" in seen.inner_text() and "Pink" in seen.inner_text()
