"""Sign-in with an API key: kept in sessionStorage only, refused keys say so, roles shape the
navigation, and the key never travels in a URL."""

from __future__ import annotations

import pytest
from browser.ui_support import Browse, wait_idle

from dashboard.keys import Role

pytestmark = pytest.mark.integration


def test_sign_in_with_a_key_keeps_it_for_the_session_only(browse: Browse) -> None:
    """The form takes a key, shows the overview, and stores the key in sessionStorage only."""
    probe = browse.open("/", role=None)
    page = probe.page
    assert page.evaluate("location.hash") == "#/signin"  # no key: sent to sign in
    token = browse.env.token(Role.VIEWER)
    page.fill("#key", token)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("[data-site]")
    wait_idle(page)
    assert page.evaluate("location.hash") == "#/"
    assert page.evaluate("sessionStorage.getItem('shinshu.apiKey')") == token
    stored = page.evaluate("JSON.stringify(Object.values(localStorage))")
    assert token not in stored
    assert page.inner_text("#who") == "alpha · 閲覧者"
    assert all(token not in r.url for r in probe.responses)
    probe.clean()


def test_refused_key_shows_a_message_and_stores_nothing(browse: Browse) -> None:
    """An unknown key gets a message in the page, not a broken page."""
    probe = browse.open("/signin", role=None)
    page = probe.page
    page.fill("#key", "shk_000000000000_not-a-real-secret")
    page.click("#signin button[type=submit]")
    page.wait_for_selector("#signin-error:not([hidden])")
    assert "無効" in page.inner_text("#signin-error")
    assert page.evaluate("sessionStorage.getItem('shinshu.apiKey')") is None
    assert not probe.console_errors or all("401" in e for e in probe.console_errors)


def test_sign_out_forgets_the_key(browse: Browse) -> None:
    """Signing out removes the key and returns to the sign-in form."""
    probe = browse.open("/", role=Role.VIEWER)
    page = probe.page
    page.click("#signout")
    page.wait_for_selector("#signin")
    assert page.evaluate("sessionStorage.getItem('shinshu.apiKey')") is None
    page.goto(f"{browse.env.url}/#/")
    page.wait_for_selector("#signin")
    probe.clean()


def test_researcher_sees_only_the_export(browse: Browse) -> None:
    """A researcher key lands on the export page; the overview link is not offered."""
    probe = browse.open("/", role=Role.RESEARCHER)
    page = probe.page
    assert page.evaluate("location.hash") == "#/export"
    assert not page.locator("[data-nav=overview]").is_visible()
    assert page.locator("[data-nav=export]").is_visible()
    probe.clean()


def test_other_roles_are_not_offered_the_export(browse: Browse) -> None:
    """Exports are for researcher keys; others see an explanation and make no export request."""
    probe = browse.open("/export", role=Role.ADMIN)
    page = probe.page
    assert not page.locator("[data-nav=export]").is_visible()
    assert page.locator("[data-empty=export]").is_visible()
    assert not [r for r in probe.responses if "/exports/" in r.url]
    probe.clean()
