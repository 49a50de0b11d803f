"""Research sharing in a browser: a researcher account asks tenant alpha for sites, alpha's
admin approves (narrowing the sites), rejects or revokes on `#/research`, and the account's
export page offers exactly what is in force, its download listed in the admin's log.

Each test makes its own account, so the grants of one never show in another's export page.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from browser.test_i18n import KEY_SHAPE, _leftovers, _settled, _visible, table
from browser.ui_support import Browse, Probe, UiEnv, screenshot, site_kinds, wait_idle, wait_js
from playwright.sync_api import Page

from dashboard.grants import Terms
from dashboard.keys import Role

pytestmark = pytest.mark.integration

TENANT = "alpha"
API = "/api/v1"
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]")
# Two days of the simulated data, in Japan time, end date included.
CHOSEN = {"start": "2025-06-01", "end": "2025-06-02"}
TOKYO = ZoneInfo("Asia/Tokyo")


def _account(env: UiEnv) -> tuple[str, dict[str, str]]:
    """A new researcher account (a researcher key without sites) and its header."""
    name = f"lab-{uuid.uuid4().hex[:8]}"
    token = env.app.state.context.keys.create(name, Role.RESEARCHER, name="Dr. Sato")[1]
    return name, {"X-API-Key": token}


def _admin(env: UiEnv) -> dict[str, str]:
    return {"X-API-Key": env.token(Role.ADMIN)}


def _call(env: UiEnv, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> Any:
    """The JSON of a 2xx answer of the API."""
    response = httpx.request(method, f"{env.url}{API}{path}", headers=headers, timeout=30, **kwargs)
    assert response.is_success, (path, response.status_code, response.text)
    return response.json()


def _ask(env: UiEnv, account: dict[str, str], sites: list[str]) -> dict[str, Any]:
    """The account asks alpha for `sites`."""
    body = {"tenant": TENANT, "sites": sites, "purpose": "soil moisture across Nagano"}
    asked: dict[str, Any] = _call(env, "POST", "/research/grants", account, json=body)
    assert asked["status"] == "requested"
    return asked


def _in_days(days: int) -> str:
    """The Japan date `days` from today, as a date input takes it."""
    return (dt.datetime.now(TOKYO).date() + dt.timedelta(days=days)).isoformat()


def _grant_of(env: UiEnv, grant_id: str) -> dict[str, Any]:
    """Alpha's grant `grant_id` as its admin reads it from the API."""
    grants = _call(env, "GET", f"/tenants/{TENANT}/research/grants", _admin(env))
    found: dict[str, Any] = next(g for g in grants if g["id"] == grant_id)
    return found


def _no_other_language(page: Page, lang: str) -> None:
    """The page shows its strings in `lang` only, and no raw key of the table."""
    entries = table(page)
    other = "ja" if lang == "en" else "en"
    text = _settled(page, entries, other)
    assert not _leftovers(text, entries, other)
    assert not [k for k in KEY_SHAPE.findall(text) if k in entries], "untranslated key shown"
    if lang == "en":
        assert not CJK.search(text.replace(entries["lang.switch"]["en"], "")), CJK.findall(text)
    else:
        assert CJK.search(text)


def _download_csv(probe: Probe) -> list[dict[str, str]]:
    """Choose the two days and one sensor kind on the export page; the rows of its CSV."""
    page = probe.page
    page.fill("input[name=start]", CHOSEN["start"])
    page.fill("input[name=end]", CHOSEN["end"])
    # The last week (the default) has no data: kinds are offered once the two days are read.
    page.locator("input[name=kind]").first.wait_for()
    wait_idle(page)
    page.check("input[name=format][value=csv]")
    for box in page.locator("input[name=kind]").all()[1:]:
        box.uncheck()
    wait_idle(page)
    with page.expect_download() as info:
        page.click("#download")
    return list(csv.DictReader(io.StringIO(info.value.path().read_text())))


def test_an_approved_request_opens_only_its_sites_and_the_download_is_logged(
    browse: Browse,
) -> None:
    """Asked for the farm and the forest, approved for the farm only: the account's export page
    offers alpha with the farm alone, its CSV holds only farm rows, and alpha's admin sees
    that download in the log; the admin's page speaks English only."""
    env = browse.env
    farm, forest = env.sites["farm"], env.sites["forest"]
    name, account = _account(env)
    asked = _ask(env, account, [farm, forest])

    admin = browse.open("/research", role=Role.ADMIN, lang="en")
    page = admin.page
    item = page.locator(f"#pending [data-grant='{asked['id']}']")
    assert item.locator("[data-field=sites]").inner_text() == f"{farm}, {forest}"
    item.locator("[data-action=approve]").click()
    form = item.locator("form[data-form=approve]")
    assert form.locator("input[name=licence]").input_value() == "CC-BY-4.0"
    # No expiry: refused beside its input before anything is sent.
    form.locator("[data-save]").click()
    error = form.locator("[data-error-for=expires]")
    assert error.is_visible()
    assert error.inner_text() == table(page)["research.expiresNeeded"]["en"]
    assert _grant_of(env, asked["id"])["status"] == "requested"
    expiry = _in_days(30)
    form.locator("input[name=expires]").fill(expiry)
    form.locator(f"input[name=sites][value='{forest}']").uncheck()
    form.locator("[data-save]").click()
    page.locator(f"#grants [data-grant='{asked['id']}'][data-status=active]").wait_for()
    approved = _grant_of(env, asked["id"])
    assert approved["sites"] == [farm]
    assert approved["licence"] == "CC-BY-4.0"
    # The expiry date is a Japan day: the grant ends at its end.
    ends = dt.datetime.fromisoformat(approved["expires"]).astimezone(TOKYO)
    assert ends == dt.datetime.combine(
        dt.date.fromisoformat(expiry) + dt.timedelta(days=1), dt.time(), TOKYO
    )
    assert page.locator(f"#pending [data-grant='{asked['id']}']").count() == 0

    researcher = browse.open("/export", key=account["X-API-Key"], lang="en")
    shown = researcher.page
    options = shown.locator("select[name=tenant] option")
    assert [options.nth(i).get_attribute("value") for i in range(options.count())] == [TENANT]
    offered = shown.locator("input[name=site]")
    assert [offered.nth(i).get_attribute("value") for i in range(offered.count())] == [farm]
    mine = shown.locator(f"#my-grants [data-grant='{asked['id']}']")
    assert mine.get_attribute("data-status") == "active"
    assert mine.locator("[data-field=licence]").inner_text() == "CC-BY-4.0"
    rows = _download_csv(researcher)
    assert rows
    assert {r["site"] for r in rows} == {farm}
    _no_other_language(shown, "en")
    researcher.clean()

    page.reload()
    wait_idle(page)
    exports = page.locator("#download-log tbody tr[data-channel=export]", has_text=name)
    assert exports.count() >= 1
    row = exports.first
    assert (
        f"{API}/tenants/{TENANT}/exports/readings.csv"
        in row.locator("[data-field=what]").inner_text()
    )
    assert int(row.locator("[data-field=items]").inner_text().replace(",", "")) == len(rows)
    _no_other_language(page, "en")
    screenshot(page, "research-approved-en")
    admin.clean()


def _give(env: UiEnv, account: str, tenant: str, site: str) -> None:
    """`tenant`'s admin shares `site` with `account` for a month (in the grant store itself,
    as the test has an admin key of alpha only)."""
    context = env.app.state.context
    terms = Terms(licence="CC-BY-4.0", expires_ms=context.grants.now_ms() + 30 * 86_400_000)
    context.grants.give(
        researcher=account, tenant=tenant, sites=[site], purpose="", terms=terms, by="test"
    )


def test_the_tenant_chosen_is_the_one_every_request_goes_to(browse: Browse) -> None:
    """Granted a site of alpha and one of beta: choosing beta offers beta's site alone, and the
    metadata and the file come from beta's routes, logged in beta's log."""
    env = browse.env
    name, account = _account(env)
    beta = site_kinds(env.store, "beta")["forest"]
    _give(env, name, TENANT, env.sites["farm"])
    _give(env, name, "beta", beta)
    probe = browse.open("/export", key=account["X-API-Key"], lang="en")
    page = probe.page
    options = page.locator("select[name=tenant] option")
    assert [options.nth(i).get_attribute("value") for i in range(options.count())] == [
        TENANT,
        "beta",
    ]
    page.select_option("select[name=tenant]", "beta")
    page.locator("select[name=tenant] option[value=beta][selected]").wait_for(state="attached")
    offered = page.locator("input[name=site]")
    assert [offered.nth(i).get_attribute("value") for i in range(offered.count())] == [beta]
    chosen_at = len(probe.responses)
    rows = _download_csv(probe)
    assert rows
    assert {r["site"] for r in rows} == {beta}
    asked = [r.url for r in probe.responses[chosen_at:] if "/exports/" in r.url]
    assert asked
    assert all(f"{API}/tenants/beta/exports/" in url for url in asked), asked
    logged = env.app.state.context.grants.downloads(tenant="beta")
    assert [d.items for d in logged if d.researcher == name and d.channel == "export"] == [
        len(rows)
    ]
    assert not [
        d for d in env.app.state.context.grants.downloads(tenant=TENANT) if d.researcher == name
    ]
    probe.clean()


def test_rejected_and_revoked_grants_leave_the_account_nothing(browse: Browse) -> None:
    """Alpha's admin rejects one request with a note and revokes an approved grant (a second
    tap confirms); the account is then offered no tenant, and says so in Japanese."""
    env = browse.env
    _name, account = _account(env)
    rejected = _ask(env, account, [env.sites["farm"]])
    revoked = _ask(env, account, [env.sites["forest"]])
    terms = {"licence": "CC0-1.0", "expires": _in_days(10)}
    path = f"/tenants/{TENANT}/research/grants/{revoked['id']}/approve"
    assert _call(env, "POST", path, _admin(env), json=terms)["status"] == "active"

    admin = browse.open("/research", role=Role.ADMIN, lang="ja")
    page = admin.page
    entries = table(page)
    item = page.locator(f"#pending [data-grant='{rejected['id']}']")
    item.locator("[data-action=reject]").click()
    item.locator("form[data-form=reject] input[name=note]").fill("対象外の拠点です")
    item.locator("form[data-form=reject] [data-save]").click()
    page.locator(f"#grants [data-grant='{rejected['id']}'][data-status=rejected]").wait_for()
    assert _grant_of(env, rejected["id"])["note"] == "対象外の拠点です"
    # A rejected request has nothing to revoke.
    assert page.locator(f"#grants [data-grant='{rejected['id']}'] [data-action]").count() == 0

    button = page.locator(f"#grants [data-grant='{revoked['id']}'] [data-action=revoke]")
    button.click()
    assert button.inner_text() == entries["research.revokeConfirm"]["ja"]
    assert _grant_of(env, revoked["id"])["status"] == "active", "one tap revokes nothing"
    button.click()
    page.locator(f"#grants [data-grant='{revoked['id']}'][data-status=revoked]").wait_for()
    assert _grant_of(env, revoked["id"])["status"] == "revoked"
    _no_other_language(page, "ja")
    admin.clean()

    assert _call(env, "GET", "/whoami", account)["reach"] == []
    researcher = browse.open("/export", key=account["X-API-Key"], lang="ja")
    shown = researcher.page
    assert shown.inner_text("[data-empty=grants]") == entries["export.noGrants"]["ja"]
    assert shown.locator("#export").count() == 0
    statuses = {
        g: shown.locator(f"#my-grants [data-grant='{g}'] [data-status]").inner_text()
        for g in (rejected["id"], revoked["id"])
    }
    assert statuses == {
        rejected["id"]: entries["grantstatus.rejected"]["ja"],
        revoked["id"]: entries["grantstatus.revoked"]["ja"],
    }
    note = shown.locator(f"#my-grants [data-grant='{rejected['id']}'] [data-field=note]")
    assert "対象外の拠点です" in note.inner_text()
    _no_other_language(shown, "ja")
    researcher.clean()


def test_an_account_asks_through_its_export_page_in_both_languages(browse: Browse) -> None:
    """A new account sees the empty state and its request form in Japanese; the request it
    sends is listed as requested; the switch turns every string English."""
    env = browse.env
    _name, account = _account(env)
    probe = browse.open("/export", key=account["X-API-Key"], lang="ja")
    page = probe.page
    entries = table(page)
    assert page.inner_text("[data-empty=grants]") == entries["export.noGrants"]["ja"]
    assert page.inner_text("[data-empty=asked]") == entries["export.noneAsked"]["ja"]
    _no_other_language(page, "ja")
    form = page.locator("form[data-form=ask]")
    form.locator("input[name=tenant]").fill(TENANT)
    form.locator("input[name=sites]").fill(f"{env.sites['farm']}、 {env.sites['forest']}")
    form.locator("input[name=purpose]").fill("蒸発散の比較")
    form.locator("[data-save]").click()
    page.locator("#asked").wait_for()
    asked = _call(env, "GET", "/research/grants", account)
    assert [(g["tenant"], g["sites"], g["status"]) for g in asked] == [
        (TENANT, sorted([env.sites["farm"], env.sites["forest"]]), "requested")
    ]
    badge = page.locator(f"#my-grants [data-grant='{asked[0]['id']}'] [data-status]")
    assert badge.inner_text() == entries["grantstatus.requested"]["ja"]
    assert form.locator("input[name=tenant]").input_value() == "", "the form is emptied"

    page.click("#lang")
    wait_js(page, "document.documentElement.lang === 'en'")
    # The switch redraws the page; the account's grants are fetched again before they show.
    english = entries["grantstatus.requested"]["en"]
    badge_text = "document.querySelector('#my-grants .badge[data-status]')?.textContent"
    wait_js(page, f"{badge_text} === {english!r}")
    wait_idle(page)
    _no_other_language(page, "en")
    assert english in _visible(page)
    screenshot(page, "export-account-en")
    probe.clean()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR, Role.RESEARCHER])
def test_only_admins_are_offered_the_sharing_page(browse: Browse, role: Role) -> None:
    """Other roles have no link to `#/research`, and opening it sends them to their start."""
    probe = browse.open("/research", role=role, lang="en")
    page = probe.page
    wait_js(page, "location.hash !== '#/research'")
    wait_idle(page)
    assert page.evaluate("location.hash") == ("#/export" if role is Role.RESEARCHER else "#/")
    assert page.locator("#pending, #download-log").count() == 0
    assert not page.locator("[data-nav=research]").is_visible()
    admin = browse.open("/", role=Role.ADMIN, lang="en")
    assert admin.page.locator("[data-nav=research]").is_visible()
    probe.clean()
