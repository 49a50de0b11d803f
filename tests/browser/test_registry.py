"""The registry in a browser, at phone and desktop size, in Japanese and English.

An operator registers a site and a field, attaches a real edge agent's device to it, and the
agent's readings (Mosquitto → ingest → InfluxDB) appear on the new field's page, where a work
record entered in a few taps is listed beside the charts. A viewer sees the same pages with no
edit control at all, and refused input is explained next to its input in the chosen language.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browser.agent_support import EdgeAgent
from browser.test_i18n import _leftovers, _settled, table
from browser.ui_support import (
    Browse,
    Probe,
    UiEnv,
    screenshot,
    site_kinds,
    wait_idle,
    wait_js,
)
from playwright.sync_api import Locator, Page
from support import IngestFactory, Services, wait_until

from dashboard.keys import Role

pytestmark = pytest.mark.integration

TENANT = "alpha"
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]")
OTHER = {"ja": "en", "en": "ja"}
# Every control that changes the registry or enters a record.
EDIT_CONTROLS = (
    '[data-action="add-site"], [data-action="edit-site"], [data-action="add-entry"], '
    '[data-action="edit-entry"], [data-action="attach"], [data-action="retire"], '
    "form, [data-void], #record-form-box"
)


def _newest(env: UiEnv, agent: EdgeAgent, kind: str) -> tuple[int, float] | None:
    """The agent's newest stored reading of `kind` as (ms, value)."""
    answer = env.store.query(
        f'SELECT last("value") FROM "{kind}" WHERE "tenant" = \'{TENANT}\' '
        f"AND \"site\" = '{agent.site}' AND \"device\" = '{agent.device}'",
        epoch="ms",
    )
    rows = answer[0].get("series", [{}])[0].get("values", [])
    return (int(rows[0][0]), float(rows[0][1])) if rows else None


def _stored_at(env: UiEnv, agent: EdgeAgent, kind: str, ms: int) -> float | None:
    """The value the store holds for the agent's `kind` reading at `ms`."""
    answer = env.store.query(
        f'SELECT "value" FROM "{kind}" WHERE "tenant" = \'{TENANT}\' '
        f"AND \"device\" = '{agent.device}' AND time = {ms}ms",
        epoch="ms",
    )
    rows = answer[0].get("series", [{}])[0].get("values", [])
    return float(rows[0][1]) if rows else None


@pytest.fixture
def agent(
    services: Services, ui_env: UiEnv, ingest_factory: IngestFactory, tmp_path: Path
) -> Iterator[EdgeAgent]:
    """A real edge agent of a new site, whose readings are already in the store."""
    ingest_factory(services, ui_env.store.database)
    tag = uuid.uuid4().hex[:6]
    sensors: list[dict[str, object]] = [
        {"name": "air", "driver": "simulated", "kind": "air_temperature", "interval_s": 0.5},
        {"name": "soil", "driver": "simulated", "kind": "soil_moisture", "interval_s": 0.5},
    ]
    edge = EdgeAgent(tmp_path / "agent", TENANT, f"new-farm-{tag}", f"pi-{tag}", sensors)
    edge.start(services)
    try:
        wait_until(lambda: _newest(ui_env, edge, "air_temperature") is not None, 60, "readings")
        yield edge
    finally:
        edge.stop()


def _fill(form: Locator, values: dict[str, object]) -> None:
    for name, value in values.items():
        form.locator(f'[name="{name}"]').fill(str(value))


def _no_sideways_scroll(page: Page, what: str) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{what} scrolls sideways by {overflow}px"


def _register_field(page: Page, agent: EdgeAgent) -> str:
    """Through the forms: the site, a lettuce field with one season, the agent's device."""
    page.click('[data-action="add-site"]')
    form = page.locator('form[data-form="site"]')
    _fill(
        form,
        {
            "site": agent.site,
            "name_ja": "新しい圃場",
            "name_en": "New farm",
            "municipality": "安曇野市",
            "latitude": 36.3,
            "longitude": 137.9,
            "altitude_m": 560,
        },
    )
    form.locator('input[name="kind"][value="farm"]').check()
    form.locator("[data-save]").click()
    card = page.locator(f'[data-site="{agent.site}"]')
    card.wait_for()
    card.locator('[data-action="add-entry"]').click()
    form = card.locator('form[data-form="field"]')
    _fill(form, {"asset": "lettuce-1", "name": "Lettuce 1", "crop": "lettuce", "area_ha": 0.4})
    form.locator("[data-add-season]").click()
    form.locator('[data-season] input[name="planting"]').fill(dt.date.today().isoformat())
    form.locator("[data-save]").click()
    entry = card.locator('[data-asset="lettuce-1"]')
    entry.wait_for()
    assert entry.locator(".attach").get_attribute("data-attached") == ""
    entry.locator('[data-action="attach"]').click()
    option = entry.locator(f'select[name="device"] option[value="{agent.device}"]')

    def listed() -> bool:
        # The list is the API's device catalogue, which may take a moment to see a new one.
        if option.count() == 0:
            entry.locator("[data-reload-devices]").click()
            page.wait_for_timeout(500)
        return option.count() > 0

    wait_until(listed, 30, "the agent's device in the list")
    form = entry.locator('form[data-form="attach"]')
    form.locator('select[name="device"]').select_option(agent.device)
    # The channels offered are the chosen device's, from its readings.
    form = entry.locator('form[data-form="attach"]')
    form.locator('input[name="sensors"][value="air"]').check()
    form.locator('input[name="sensors"][value="soil"]').check()
    _no_sideways_scroll(page, "the registry with a form open")
    form.locator("[data-save]").click()
    page.locator(f'[data-asset="lettuce-1"] .attach[data-attached="{agent.device}"]').wait_for()
    return "lettuce-1"


def _readings_shown(page: Page, env: UiEnv, agent: EdgeAgent) -> None:
    """The field page shows the agent's stored readings: latest values and charts."""
    for sensor, kind in (("air", "air_temperature"), ("soil", "soil_moisture")):
        tile = page.locator(f'#latest .tile[data-sensor="{sensor}"]')
        tile.wait_for()
        shown = float(tile.locator(".tile-value").get_attribute("data-value") or "nan")
        at = tile.locator("time").get_attribute("datetime") or ""
        ms = int(dt.datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp() * 1000)
        assert _stored_at(env, agent, kind, ms) == pytest.approx(shown), (sensor, at)
        chart = f'[data-chart-kind="{kind}"]'
        wait_js(page, f"!!document.querySelector('{chart}')?.uplot")
        values = page.evaluate(
            f"document.querySelector('{chart}').uplot.data[1].filter((v) => v !== null).length"
        )
        assert values > 0, f"{kind} chart is empty"


@pytest.mark.parametrize(("viewport", "lang"), [("phone", "ja"), ("desktop", "en")])
def test_operator_registers_a_field_and_sees_its_device_readings(
    browse: Browse, agent: EdgeAgent, viewport: str, lang: str
) -> None:
    """Register → attach → the real agent's readings on the field page, a record beside them."""
    env = browse.env
    probe = browse.open("/registry", role=Role.OPERATOR, lang=lang, viewport=viewport)
    page = probe.page
    assert page.locator('#nav [data-nav="registry"]').is_visible()
    asset = _register_field(page, agent)
    screenshot(page, f"registry-operator-{lang}-{viewport}")

    page.locator(f'[data-site="{agent.site}"] [data-asset="{asset}"] a.entry-name').click()
    wait_js(page, f"location.hash === '#/field/{agent.site}/{asset}'")
    wait_idle(page)
    _readings_shown(page, env, agent)

    # A harvest in a few taps: the kind, a quantity, a grade; the date is today.
    form = page.locator('form[data-form="record"]')
    form.locator('button[data-kind="harvest"]').click()
    form = page.locator('form[data-form="record"]')
    assert form.locator('input[name="at"]').input_value() == _tokyo_today()
    form.locator('input[name="quantity"]').fill("12.5")
    form.locator('input[name="grade"]').fill("A")
    form.locator("[data-save]").click()
    record = page.locator('#record-list .record[data-kind="harvest"]')
    record.wait_for()
    assert record.locator('[data-field="quantity"]').get_attribute("data-raw") == "12.5"
    if viewport == "phone":
        _no_sideways_scroll(page, "the field page")
    screenshot(page, f"field-operator-{lang}-{viewport}")

    # The same page in the other language.
    entries = table(page)
    page.click("#lang")
    wait_js(page, f"document.documentElement.lang === '{OTHER[lang]}'")
    wait_idle(page)
    heading = page.locator("#records h2")
    heading.wait_for()
    assert heading.inner_text() == entries["entry.records"][OTHER[lang]]
    _readings_shown(page, env, agent)
    page.locator('#record-list .record[data-kind="harvest"]').wait_for()
    assert bool(CJK.search(page.locator("#records").inner_text())) is (OTHER[lang] == "ja")
    screenshot(page, f"field-operator-{OTHER[lang]}-{viewport}")

    # Who changed what, and since when the device measures the field.
    page.goto(f"{env.url}/#/registry")
    wait_idle(page)
    entry = page.locator(f'[data-site="{agent.site}"] [data-asset="{asset}"]')
    entry.locator('[data-action="history"]').click()
    entry.locator("[data-history]").wait_for()
    changes = entry.locator(".versions li").evaluate_all(
        "(els) => els.map((e) => e.dataset.change)"
    )
    assert sorted(changes) == ["create", "update"]
    attachment = entry.locator(f'.attachments li[data-device="{agent.device}"]')
    assert attachment.count() == 1
    _move_device(page, env, agent, asset)
    probe.clean()


def _move_device(page: Page, env: UiEnv, agent: EdgeAgent, old: str) -> None:
    """The device moves to a second field: the first keeps its readings until then."""
    card = page.locator(f'[data-site="{agent.site}"]')
    card.locator('[data-action="add-entry"]').click()
    form = card.locator('form[data-form="field"]')
    _fill(form, {"asset": "lettuce-2", "crop": "lettuce", "area_ha": 0.2})
    form.locator("[data-save]").click()
    new = card.locator('[data-asset="lettuce-2"]')
    new.locator('[data-action="attach"]').click()
    new.locator('select[name="device"]').select_option(agent.device)
    new.locator('form[data-form="attach"] [data-save]').click()
    card.locator(f'[data-asset="lettuce-2"] .attach[data-attached="{agent.device}"]').wait_for()
    card.locator(f'[data-asset="{old}"] [data-action="attach"]').click()
    card.locator(f'[data-asset="{old}"] select[name="device"]').select_option("")
    card.locator(f'[data-asset="{old}"] form[data-form="attach"] [data-save]').click()
    card.locator(f'[data-asset="{old}"] .attach[data-attached=""]').wait_for()
    entry = card.locator(f'[data-asset="{old}"]')
    entry.locator('[data-action="history"]').click()
    until = entry.locator(f'.attachments li[data-device="{agent.device}"] time').nth(1)
    left = until.get_attribute("datetime") or ""
    assert left, "the attachment to the first field has an end"

    # The first field: no device now, its charts end when the device left.
    page.goto(f"{env.url}/#/field/{agent.site}/{old}")
    wait_idle(page)
    chart = '[data-chart-kind="air_temperature"]'
    page.locator(chart).wait_for()
    wait_js(page, f"!!document.querySelector('{chart}')?.uplot")
    assert page.locator("#latest .tile").count() == 0
    last = page.evaluate(f"Math.max(...document.querySelector('{chart}').uplot.data[0])")
    left_s = dt.datetime.fromisoformat(left.replace("Z", "+00:00")).timestamp()
    assert last <= left_s
    # The second field: the device's readings from then on.
    page.goto(f"{env.url}/#/field/{agent.site}/lettuce-2")
    wait_idle(page)
    page.locator('#latest .tile[data-sensor="air"]').wait_for()


def _tokyo_today() -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=9)).date().isoformat()


def _first_field(probe: Probe) -> tuple[str, str]:
    """The site and id of the first registered field on the registry page."""
    entry = probe.page.locator('[data-entry-kind="field"]').first
    entry.wait_for()
    site = entry.evaluate("(e) => e.closest('[data-site]').dataset.site")
    return site, entry.get_attribute("data-asset") or ""


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_viewer_sees_no_edit_controls(browse: Browse, lang: str, viewport: str) -> None:
    """The registry and an entry's page for a viewer: everything to read, nothing to change."""
    probe = browse.open("/registry", role=Role.VIEWER, lang=lang, viewport=viewport)
    page = probe.page
    assert page.locator(".reg-site").count() >= 3, "the simulated sites are registered"
    assert page.locator(EDIT_CONTROLS).count() == 0
    site, asset = _first_field(probe)
    entry = page.locator(f'[data-site="{site}"] [data-asset="{asset}"]')
    entry.locator('[data-action="history"]').click()
    entry.locator("[data-history] .versions li").first.wait_for()
    assert page.locator(EDIT_CONTROLS).count() == 0
    if viewport == "phone":
        _no_sideways_scroll(page, "the registry")
    screenshot(page, f"registry-viewer-{lang}-{viewport}")

    entry.locator("a.entry-name").click()
    wait_js(page, f"location.hash === '#/field/{site}/{asset}'")
    wait_idle(page)
    # The field's device readings (the simulated history) are shown.
    page.locator("#latest .tile").first.wait_for()
    page.locator("#record-list .empty, #record-list .records").wait_for()
    wait_idle(page)
    assert page.locator(EDIT_CONTROLS).count() == 0
    assert bool(CJK.search(page.locator("main").inner_text())) is (lang == "ja")
    if viewport == "phone":
        _no_sideways_scroll(page, "the field page")
    screenshot(page, f"field-viewer-{lang}-{viewport}")
    probe.clean()


def test_a_researcher_is_sent_to_the_export_page(browse: Browse) -> None:
    """Researchers only export: the registry link is not offered, its page not shown."""
    probe = browse.open("/registry", role=Role.RESEARCHER)
    wait_js(probe.page, "location.hash === '#/export'")
    assert not probe.page.locator('#nav [data-nav="registry"]').is_visible()


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_refused_input_is_explained_next_to_its_input(browse: Browse, lang: str) -> None:
    """A latitude out of range: the server's message beside the input, in the chosen language."""
    probe = browse.open("/registry", role=Role.OPERATOR, lang=lang, viewport="phone")
    page = probe.page
    page.click('[data-action="add-site"]')
    form = page.locator('form[data-form="site"]')
    site = f"bad-{uuid.uuid4().hex[:6]}"
    _fill(
        form,
        {"site": site, "name_ja": "北極", "latitude": 123, "longitude": 138, "altitude_m": 0},
    )
    form.locator("[data-save]").click()
    error = form.locator('[data-field="latitude"] .field-error')
    error.wait_for()
    text = error.inner_text()
    assert text.strip()
    assert bool(CJK.search(text)) is (lang == "ja"), text
    assert form.locator('input[name="latitude"]').get_attribute("aria-invalid") == "true"
    assert form.locator('[data-field="longitude"] .field-error').is_hidden()
    assert page.locator(f'[data-site="{site}"]').count() == 0, "nothing was saved"
    screenshot(page, f"registry-refused-{lang}-phone")
    # The refusal is the only failed request; no script error.
    assert all("422" in r for r in probe.failed_requests), probe.failed_requests
    assert all("422" in m or "Failed to load resource" in m for m in probe.console_errors)


def _records(env: UiEnv, key: str, site: str, asset: str) -> list[dict[str, object]]:
    """The entry's records as the API lists them to `key` (of tenant beta)."""
    answer = httpx.get(
        f"{env.url}/api/v1/tenants/beta/records",
        params={"site": site, "asset": asset},
        headers={"X-API-Key": key},
        timeout=10,
    )
    answer.raise_for_status()
    records: list[dict[str, object]] = answer.json()
    return records


def _bin_sensors(env: UiEnv, site: str) -> list[str]:
    """The weight sensors of beta's factory `site`, from the store."""
    answer = env.store.query(
        f'SHOW TAG VALUES FROM "bin_weight" WITH KEY = "sensor" '
        f"WHERE \"tenant\" = 'beta' AND \"site\" = '{site}'"
    )
    return sorted(v for _, v in answer[0]["series"][0]["values"])


def _enter(page: Page, kind: str, quantity: str) -> None:
    """A record of `kind` with `quantity` through the quick form, today."""
    page.locator(f'form[data-form="record"] button[data-kind="{kind}"]').click()
    form = page.locator('form[data-form="record"]')
    form.locator('input[name="quantity"]').fill(quantity)
    form.locator("[data-save]").click()
    page.locator(f'#record-list .record[data-kind="{kind}"]').wait_for()


@pytest.mark.parametrize(("viewport", "lang"), [("phone", "en"), ("desktop", "ja")])
def test_operator_registers_a_stand_and_a_bin_and_records_work_on_them(
    browse: Browse, viewport: str, lang: str
) -> None:
    """A stand of the forest, a bin of the factory on its load cell; thinning and a stocktake.

    In tenant beta, which the other pages' tests do not look at: a bin whose load cell is not
    named after it is not what they expect of the simulated factory.
    """
    env = browse.env
    sites = site_kinds(env.store, "beta")
    forest, factory = sites["forest"], sites["factory"]
    keys = env.app.state.context.keys
    operator = keys.create("beta", Role.OPERATOR, name="registry operator")[1]
    viewer = keys.create("beta", Role.VIEWER, name="registry viewer")[1]
    tag = uuid.uuid4().hex[:6]
    probe = browse.open("/registry", key=operator, lang=lang, viewport=viewport)
    page = probe.page
    card = page.locator(f'[data-site="{forest}"]')
    card.locator('[data-action="add-entry"]').click()
    form = card.locator('form[data-form="stand"]')
    form.locator('select[name="species"]').select_option("sugi")
    _fill(form, {"asset": f"sugi-{tag}", "area_ha": 2.5, "planting_year": 1985})
    form.locator("[data-save]").click()
    card.locator(f'[data-asset="sugi-{tag}"]').wait_for()

    card = page.locator(f'[data-site="{factory}"]')
    card.locator('[data-action="add-entry"]').click()
    form = card.locator('form[data-form="bin"]')
    _fill(
        form,
        {
            "asset": f"nuts-{tag}",
            "item": "M6 nuts",
            "unit_kg": 0.004,
            "capacity": 5000,
            "lead_time_h": 24,
            "tolerance": 20,
        },
    )
    form.locator("[data-save]").click()
    entry = card.locator(f'[data-asset="nuts-{tag}"]')
    entry.wait_for()
    entry.locator('[data-action="attach"]').click()
    weight = _bin_sensors(env, factory)[0]
    entry.locator('select[name="device"]').select_option("stock-gateway")
    entry.locator('select[name="weight_sensor"]').select_option(weight)
    entry.locator('form[data-form="attach"] [data-save]').click()
    page.locator(f'[data-asset="nuts-{tag}"] .attach[data-attached="stock-gateway"]').wait_for()
    screenshot(page, f"registry-stand-bin-{lang}-{viewport}")

    page.locator(f'[data-asset="nuts-{tag}"] a.entry-name').click()
    wait_js(page, f"location.hash === '#/bin/{factory}/nuts-{tag}'")
    wait_idle(page)
    page.locator(f'#latest .tile[data-sensor="{weight}"]').wait_for()
    _enter(page, "stocktake", "1200")
    screenshot(page, f"bin-operator-{lang}-{viewport}")
    [stocktake] = _records(env, viewer, factory, f"nuts-{tag}")
    assert (stocktake["kind"], stocktake["quantity"], stocktake["unit"]) == (
        "stocktake",
        1200,
        "items",
    )

    page.goto(f"{env.url}/#/stand/{forest}/sugi-{tag}")
    wait_idle(page)
    _enter(page, "thinning", "35.5")
    [thinning] = _records(env, viewer, forest, f"sugi-{tag}")
    assert (thinning["kind"], thinning["quantity"], thinning["unit"]) == ("thinning", 35.5, "m3")
    if viewport == "phone":
        _no_sideways_scroll(page, "the stand page")
    probe.clean()


@pytest.mark.parametrize(("kind", "role"), [("field", Role.VIEWER), ("bin", Role.OPERATOR)])
def test_an_entry_page_switches_every_string_to_english_and_back(
    browse: Browse, kind: str, role: Role
) -> None:
    """The entry page (with the record form for an operator) in one language at a time."""
    probe = browse.open("/registry", role=Role.VIEWER, lang="ja")
    entry = probe.page.locator(f'[data-entry-kind="{kind}"]').first
    site = entry.evaluate("(e) => e.closest('[data-site]').dataset.site")
    route = f"/{kind}/{site}/{entry.get_attribute('data-asset')}"
    probe = browse.open(route, role=role, lang="ja")
    page = probe.page
    page.locator("#latest .tile").first.wait_for()
    entries = table(page)
    assert not _leftovers(_settled(page, entries, "en"), entries, "en")
    page.click("#lang")
    wait_js(page, "document.documentElement.lang === 'en'")
    wait_idle(page)
    page.locator("#latest .tile").first.wait_for()
    english = _settled(page, entries, "ja")
    assert not _leftovers(english, entries, "ja")
    switch = entries["lang.switch"]["en"]
    assert not CJK.search(english.replace(switch, "")), CJK.findall(english)
    page.click("#lang")
    wait_js(page, "document.documentElement.lang === 'ja'")
    wait_idle(page)
    assert not _leftovers(_settled(page, entries, "en"), entries, "en")
    probe.clean()
