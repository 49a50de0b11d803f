"""The public disaster page: shared sites' levels in Japanese and English, without signing in."""

from __future__ import annotations

import time

import pytest
from browser.ui_support import UiEnv, wait_js
from playwright.sync_api import Browser

from edge.protocol import DeviceTopic, Reading, SensorKind
from models.landslide.service import STEP_MS
from models.landslide.settings import write_sharing

pytestmark = pytest.mark.integration

# A tenant of its own: readings stamped now in alpha would move the newest reading of alpha's
# pages, which other browser tests of the session read as their simulated days.
TENANT = "kiso"


def test_the_status_page_lists_shared_sites_in_both_languages(
    ui_env: UiEnv, browser: Browser
) -> None:
    """A storm at a shared hillside shows as 警戒, then Warning after the language switch; an
    unshared site with the same storm is not on the page; the page runs under the CSP."""
    end = int(time.time() * 1000) // STEP_MS * STEP_MS
    values = [0.0] * (13 * 144) + [10.0] * 24
    start = end - (len(values) - 1) * STEP_MS
    for site in ("status-hill", "status-private"):
        readings = [
            Reading("rain", SensorKind.RAINFALL, start + i * STEP_MS, v)
            for i, v in enumerate(values)
        ]
        assert ui_env.store.write_readings(DeviceTopic(TENANT, site, "wx"), readings) == []
    write_sharing(ui_env.store, TENANT, "status-hill", True, by="tests")
    ui_env.app.state.context.landslide.invalidate()
    context = browser.new_context(locale="ja-JP", timezone_id="UTC")
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{ui_env.url}/status")
        wait_js(page, "document.querySelector('#sites').textContent.includes('status-hill')")
        rows = page.locator("#sites tr")
        assert rows.count() == 1
        text = rows.first.inner_text()
        assert "警戒" in text and TENANT in text
        assert "status-private" not in page.content()
        page.click("#lang")
        wait_js(page, "document.querySelector('#sites').textContent.includes('Warning')")
        assert "Landslide risk" in page.inner_text("header")
        assert not errors, errors
    finally:
        context.close()
        write_sharing(ui_env.store, TENANT, "status-hill", False, by="tests")
        ui_env.app.state.context.landslide.invalidate()
