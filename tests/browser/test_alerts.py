"""Alerts in the UI: a new anomaly appears on the factory page without reloading, operators
can acknowledge it, and viewers never see the button."""

from __future__ import annotations

import httpx
import pytest
from browser.ui_support import SCENARIOS, Browse, bin_sensors, inject_alert, route_of, wait_js

from dashboard.keys import Role
from storage.alert_types import AlertKind

pytestmark = pytest.mark.integration

NEW_ALERT_WITHIN_MS = 15_000


def _api(browse: Browse, role: Role, path: str, **params: str) -> list[dict[str, object]]:
    response = httpx.get(
        f"{browse.env.url}/api/v1/tenants/alpha{path}",
        params=params,
        headers={"X-API-Key": browse.env.token(role)},
    )
    response.raise_for_status()
    result: list[dict[str, object]] = response.json()
    return result


@pytest.mark.parametrize("page_name", ["overview", "factory"])
def test_viewer_sees_alerts_but_no_acknowledge_button(browse: Browse, page_name: str) -> None:
    """Open alerts are listed for a viewer, without any operator control."""
    probe = browse.open(route_of(page_name, browse.env.sites), role=Role.VIEWER)
    page = probe.page
    assert page.locator("[data-alert-id]").count() >= 1
    assert page.locator("button[data-ack]").count() == 0
    assert page.locator("button", has_text="確認済み").count() == 0
    probe.clean()


def test_new_anomaly_appears_live_and_operator_acknowledges_it(browse: Browse) -> None:
    """An alert stored while the page is open shows within 15 s; acknowledging removes it."""
    env = browse.env
    site = env.sites["factory"]
    probe = browse.open(route_of("factory", env.sites), role=Role.OPERATOR)
    page = probe.page
    assert page.locator("button[data-ack]").count() >= 1  # operators get the control
    sensor = bin_sensors(env.store, site)[-1]
    bin_name = sensor.removesuffix("_weight")
    scenario = SCENARIOS["alpha"]
    at_ms = scenario.start_ms + scenario.duration_ms - 3 * scenario.step_ms
    alert_id = inject_alert(env.store, site, sensor, at_ms, AlertKind.SPIKE)
    card = page.locator(f'[data-alert-id="{alert_id}"]')
    card.wait_for(timeout=NEW_ALERT_WITHIN_MS)
    # The anomaly is also marked on the bin's chart.
    wait_js(page, f"document.querySelector('[data-chart=\"{bin_name}\"]').dataset.markers >= '1'")
    card.locator("button[data-ack]").click()
    card.wait_for(state="detached")
    acknowledged = _api(browse, Role.VIEWER, "/alerts", state="acknowledged", site=site)
    mine = [a for a in acknowledged if a["id"] == alert_id]
    assert len(mine) == 1
    assert mine[0]["acknowledged_by"] == env.token(Role.OPERATOR).split("_")[1]
    still_open = _api(browse, Role.VIEWER, "/alerts", state="open", site=site)
    assert alert_id not in {a["id"] for a in still_open}
    probe.clean()
