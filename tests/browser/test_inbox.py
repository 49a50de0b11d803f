"""The alert inbox: every kind of alert, filtered by site, kind and state; operators
acknowledge and resolve with a note, viewers only read."""

from __future__ import annotations

import httpx
import pytest
from browser.ui_support import SCENARIOS, Browse, choose, wait_js
from playwright.sync_api import Route

from dashboard.keys import Role
from storage.alert_types import Alert, AlertKind
from storage.alerts import AlertStore

pytestmark = pytest.mark.integration


def _alerts(browse: Browse, **params: str) -> list[dict[str, object]]:
    response = httpx.get(
        f"{browse.env.url}/api/v1/tenants/alpha/alerts",
        params=params,
        headers={"X-API-Key": browse.env.token(Role.VIEWER)},
    )
    response.raise_for_status()
    result: list[dict[str, object]] = response.json()
    return result


def _store(browse: Browse, later_ms: int = 0) -> tuple[Alert, Alert]:
    """A silent humidity probe on the farm and a stuck thermometer in the forest (raised
    `later_ms` after the usual time: alerts of their own, for a test that needs them open)."""
    env = browse.env
    scenario = SCENARIOS["alpha"]
    at = scenario.start_ms + scenario.duration_ms - 7 * scenario.step_ms + later_ms
    silent = Alert(
        "alpha",
        env.sites["farm"],
        "inbox-pi",
        "rh",
        AlertKind.SENSOR_SILENT,
        at,
        1.0,
        "sensor rh has sent nothing",
        at,
        reason_ja="センサー rh から計測値が届いていません",
    )
    stuck = Alert(
        "alpha",
        env.sites["forest"],
        "inbox-pi",
        "t",
        AlertKind.SENSOR_STUCK,
        at + 1,
        1.0,
        "sensor t has read exactly 12.3",
        at + 1,
        reason_ja="センサー t の値が変化していません",
    )
    AlertStore(env.store).write([silent, stuck])
    return silent, stuck


def test_operator_filters_acknowledges_and_resolves_with_a_note(browse: Browse) -> None:
    """Filtered to sensor_stuck, the forest's alert alone shows, explained in Japanese; it is
    acknowledged with a note, then resolved (a note is required), and the API agrees."""
    silent, stuck = _store(browse)
    probe = browse.open("/alerts", role=Role.OPERATOR, lang="ja", viewport="phone")
    page = probe.page
    page.select_option("#inbox-filters [name=kind]", "sensor_stuck")
    wait_js(page, f"!document.querySelector('[data-alert-id=\"{silent.id}\"]')")
    card = page.locator(f'[data-alert-id="{stuck.id}"]')
    card.wait_for()
    assert "値が変化していません" in card.inner_text()
    card.locator("[name=note]").fill("凍結を確認")
    card.locator("button[value=acknowledge]").click()
    wait_js(page, f"!document.querySelector('[data-alert-id=\"{stuck.id}\"]')")  # left "open"
    page.select_option("#inbox-filters [name=state]", "acknowledged")
    card = page.locator(f'[data-alert-id="{stuck.id}"]')
    card.wait_for()
    assert "凍結を確認" in card.locator("[data-handled=acknowledged]").inner_text()
    card.locator("button[value=resolve]").click()
    wait_js(page, "document.querySelector('[data-slot=error]').textContent.length > 0")
    card.locator("[name=note]").fill("センサーを交換")
    card.locator("button[value=resolve]").click()
    wait_js(page, f"!document.querySelector('[data-alert-id=\"{stuck.id}\"]')")
    (done,) = [a for a in _alerts(browse, state="resolved") if a["id"] == stuck.id]
    assert (done["acknowledged_note"], done["resolution_note"]) == ("凍結を確認", "センサーを交換")
    assert silent.id in {a["id"] for a in _alerts(browse, state="open")}
    assert not probe.console_errors, probe.console_errors


def test_a_viewer_reads_the_inbox_without_controls(browse: Browse) -> None:
    """A viewer filtered to one site sees its alerts in English, and no note or buttons."""
    silent, stuck = _store(browse)
    probe = browse.open("/alerts", role=Role.VIEWER, lang="en")
    page = probe.page
    page.select_option("#inbox-filters [name=site]", browse.env.sites["farm"])
    card = page.locator(f'[data-alert-id="{silent.id}"]')
    card.wait_for()
    wait_js(page, f"!document.querySelector('[data-alert-id=\"{stuck.id}\"]')")
    assert "has sent nothing" in card.inner_text()
    assert page.locator("#inbox form, #inbox button").count() == 0
    assert not probe.console_errors, probe.console_errors


def test_a_late_answer_for_an_older_filter_never_replaces_the_list(browse: Browse) -> None:
    """The farm's list is held back while the operator switches to the forest: the forest's
    list shows, and when the farm's answer finally arrives it is not shown over it."""
    silent, stuck = _store(browse, later_ms=10)
    probe = browse.open("/alerts", role=Role.OPERATOR, lang="en")
    page = probe.page
    farm = f"site={browse.env.sites['farm']}"
    held: list[Route] = []
    page.route("**/alerts?*", lambda r: held.append(r) if farm in r.request.url else r.continue_())
    page.select_option("#inbox-filters [name=site]", browse.env.sites["farm"])
    wait_js(page, "document.querySelector('#inbox').getAttribute('aria-busy') === 'true'")
    page.select_option("#inbox-filters [name=site]", browse.env.sites["forest"])
    page.locator(f'[data-alert-id="{stuck.id}"]').wait_for()
    assert len(held) == 1
    with page.expect_request_finished(lambda r: farm in r.url):
        held[0].continue_()
    wait_js(page, "!document.querySelector('#inbox[aria-busy]')")
    page.evaluate("new Promise((done) => setTimeout(done, 200))")  # time to show it, if it would
    assert page.locator(f'[data-alert-id="{stuck.id}"]').count() == 1
    assert page.locator(f'[data-alert-id="{silent.id}"]').count() == 0
    assert not probe.console_errors, probe.console_errors


def test_a_note_being_written_keeps_its_cursor_when_the_list_reloads(browse: Browse) -> None:
    """The operator begins a note; the list reloads under it (a filter changed); the cursor is
    still in the note and the rest of the words land there."""
    _, stuck = _store(browse, later_ms=20)
    probe = browse.open("/alerts", role=Role.OPERATOR, lang="ja")
    page = probe.page
    note = page.locator(f'[data-alert-id="{stuck.id}"] [name=note]')
    note.click()
    page.keyboard.type("凍")
    choose(page, "#inbox-filters [name=kind]", "sensor_stuck")
    page.keyboard.type("結")
    assert note.input_value() == "凍結"
    assert not probe.console_errors, probe.console_errors
