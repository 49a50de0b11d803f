"""The farm page's crop analytics: stage, degree days with their base and VPD as the API gives."""

from __future__ import annotations

import httpx
import pytest
from browser.ui_support import Browse, route_of, screenshot, wait_js

from dashboard.keys import Role

pytestmark = pytest.mark.integration


def test_farm_page_shows_stage_degree_days_and_vpd_in_japanese_then_english(
    browse: Browse,
) -> None:
    """Japanese first: the stage's Japanese name, the base named, the charts holding the API's
    days; in English the same stage by its English name."""
    env = browse.env
    site = env.sites["farm"]
    probe = browse.open(route_of("farm", env.sites), role=Role.VIEWER, lang="ja")
    page = probe.page
    wait_js(page, "!!document.querySelector('#field-analytics')")
    as_of = page.evaluate(
        "performance.getEntriesByType('resource').map((e) => e.name)"
        ".find((u) => u.includes('/analytics?'))"
    ).split("as_of=")[1][:10]
    answer = httpx.get(
        f"{env.url}/api/v1/tenants/alpha/fields/{site}/analytics",
        params={"as_of": as_of},
        headers={"X-API-Key": env.token(Role.VIEWER)},
    ).json()
    stage = answer["stage"]["current"]
    shown = page.locator("#field-stage")
    assert shown.get_attribute("data-bbch") == str(stage["bbch"])
    assert page.locator("[data-field=stage-name]").inner_text() == stage["name_ja"]
    base = page.locator("#field-gdd-base").inner_text()
    # At most one decimal, as the page formats numbers (0 °C, 6.1 °C).
    base_c = f"{round(answer['gdd']['base_c'], 1):g}"
    assert f"基準温度 {base_c} °C" in base
    wait_js(page, "!!document.querySelector('#chart-field-gdd').uplot")
    xs, ys = page.evaluate(
        "[document.querySelector('#chart-field-gdd').uplot.data[0],"
        " document.querySelector('#chart-field-gdd').uplot.data[1]]"
    )
    assert ys == [d["value"] for d in answer["gdd"]["cumulative"]]
    assert len(xs) == len(answer["gdd"]["cumulative"])
    vpd = page.evaluate("document.querySelector('#chart-field-vpd').uplot.data")
    assert vpd[1] == [d["value"] for d in answer["vpd"]["days"]]
    assert vpd[2] == [d["max"] for d in answer["vpd"]["days"]]
    assert "飽差" in page.locator("#field-card").inner_text()
    screenshot(page, "farm-field-ja")
    probe.clean()
    english = browse.open(route_of("farm", env.sites), role=Role.VIEWER, lang="en")
    wait_js(english.page, "!!document.querySelector('#field-analytics')")
    name = english.page.locator("[data-field=stage-name]").inner_text()
    assert name == stage["name_en"]
    assert f"base {base_c} °C" in english.page.locator("#field-gdd-base").inner_text()
    english.clean()
