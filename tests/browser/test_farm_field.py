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
    # An apple orchard's answer (the same shape, with chill and a scab infection) is drawn too.
    chill_days = [
        {"date": d["date"], "value": i * 0.5} for i, d in enumerate(answer["vpd"]["days"])
    ]
    apple = {
        **answer,
        "crop": "apple",
        "chill": {
            "start": "2024-10-01",
            "end": "2025-03-31",
            "start_rule": "1 October (convention)",
            "utah_units": 1200.0,
            "chill_portions": 61.5,
            "chilling_hours": 900.0,
            "hours_used": 4300,
            "hours_missing": 0,
            "utah_series": chill_days,
            "portions_series": chill_days,
            "hours_series": chill_days,
        },
        "scab": {
            "start": "2025-03-01",
            "end": as_of,
            "infections": 1,
            "events": [
                {
                    "start": "2025-05-20T08:00:00+09:00",
                    "end": "2025-05-20T20:00:00+09:00",
                    "wet_hours": 12,
                    "mean_temp_c": 15.0,
                    "required_hours": 7.0,
                    "infection": True,
                },
                {
                    "start": "2025-05-21T06:00:00+09:00",
                    "end": "2025-05-21T10:00:00+09:00",
                    "wet_hours": 4,
                    "mean_temp_c": 15.0,
                    "required_hours": 7.0,
                    "infection": False,
                },
            ],
        },
    }
    drawn = english.page.evaluate(
        """async (a) => {
          const src = document.querySelector('script[type=module]').src;
          const m = await import(new URL('fieldcharts.js', src));
          const box = document.createElement('div');
          document.body.append(box);
          box.innerHTML = m.analyticsMarkup(a).text;
          const charts = await m.drawAnalytics(box, a);
          return {
            text: box.innerText,
            rows: box.querySelectorAll('#field-scab tbody tr').length,
            chill: box.querySelector('#chart-field-chill').uplot.data[1],
            charts: charts.length,
          };
        }""",
        apple,
    )
    assert "Chill portions (Dynamic model)" in drawn["text"]
    assert "61.5 CP" in drawn["text"]
    assert drawn["rows"] == 1  # the infection, not the short wet period
    assert drawn["chill"] == [d["value"] for d in chill_days]
    assert drawn["charts"] == 3
    english.clean()
