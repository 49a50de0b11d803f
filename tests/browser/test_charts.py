"""Charts: gaps in the data are drawn as gaps, dragging zooms, and fresh readings and the
latest conditions update without a reload."""

from __future__ import annotations

import json

import pytest
from browser.ui_support import OUTAGE, SCENARIOS, Browse, route_of, wait_js

from dashboard.keys import Role
from edge.protocol import DeviceTopic, SensorKind
from storage.influx.lineprotocol import series_lines

pytestmark = pytest.mark.integration

# Two polls of 10 s: the API refreshes its sensor catalogue in the background once stale, so
# the first poll after a write may still see the previous newest reading.
FRESH_WITHIN_S = 25.0


def test_gap_rule_inserts_a_null_only_where_a_gap_exceeds_two_and_a_half_steps(
    browse: Browse,
) -> None:
    """`withGaps` breaks the line after a gap wider than 2.5 steps, and nowhere else."""
    probe = browse.open("/signin", role=None)
    result = probe.page.evaluate(
        """import(new URL('chart.js', document.querySelector('script[type=module]').src))
        .then((m) => [
          m.withGaps([0, 60, 120, 600, 660], [[1, 2, 3, 4, 5]], 60),
          m.withGaps([0, 60, 200, 260], [[1, 2, 3, 4]]),
          m.withGaps([0, 60, 120], [[1, null, 3]], 60),
        ])"""
    )
    assert result[0] == [[0, 60, 120, 180, 600, 660], [1, 2, 3, None, 4, 5]]
    # 140 s after a 60 s median spacing is under 2.5 steps: no break.
    assert result[1] == [[0, 60, 200, 260], [1, 2, 3, 4]]
    assert result[2] == [[0, 60, 120], [1, None, 3]]


def test_outage_is_drawn_as_a_gap_and_drag_zooms(browse: Browse) -> None:
    """The soil-moisture chart has a break over the outage; a drag narrows the x range."""
    probe = browse.open(route_of("farm", browse.env.sites), role=Role.VIEWER)
    page = probe.page
    chart = "document.querySelector('#chart-moisture').uplot"
    xs, ys = page.evaluate(f"[{chart}.data[0], {chart}.data[1]]")
    start_s, end_s = OUTAGE[0] / 1000, OUTAGE[1] / 1000
    inside = [y for x, y in zip(xs, ys, strict=True) if start_s <= x < end_s]
    assert inside and all(y is None for y in inside), inside
    assert page.evaluate(f"{chart}.series[1].spanGaps") is False
    before = page.evaluate(f"[{chart}.scales.x.min, {chart}.scales.x.max]")
    box = page.locator("#chart-moisture .u-over").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    page.mouse.up()
    after = page.evaluate(f"[{chart}.scales.x.min, {chart}.scales.x.max]")
    assert before[0] < after[0] < after[1] < before[1], (before, after)
    probe.clean()


def test_fresh_reading_appears_without_reload(own_browse: Browse) -> None:
    """A reading stored while the farm page is open shows in the latest conditions (on data of
    its own: another test's reading stamped now would keep this one out of the catalogue)."""
    browse = own_browse
    env = browse.env
    site = env.sites["farm"]
    probe = browse.open(route_of("farm", env.sites), role=Role.VIEWER, lang="en")
    page = probe.page
    devices = json.loads(
        page.evaluate(
            f"""fetch('/api/v1/tenants/alpha/devices?site={site}',
            {{headers: {{'X-API-Key': sessionStorage.getItem('shinshu.apiKey')}}}})
            .then((r) => r.text())"""
        )
    )
    sensor = next(
        s for d in devices for s in d["sensors"] if s["kind"] == SensorKind.AIR_TEMPERATURE
    )
    scenario = SCENARIOS["alpha"]
    at_ms = scenario.start_ms + scenario.duration_ms + scenario.step_ms
    topic = DeviceTopic("alpha", site, devices[0]["device"])
    env.store.write_lines(
        series_lines(topic, sensor["sensor"], SensorKind.AIR_TEMPERATURE, [at_ms], [33.3])
    )
    tile = f"document.querySelector('[data-sensor=\"{sensor['sensor']}\"] .tile-value')"
    wait_js(page, f"{tile}.textContent === '33.3 °C'", timeout_s=FRESH_WITHIN_S)
    probe.clean()
