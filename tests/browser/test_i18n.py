"""The translation table: both languages for every key, every key used exists, switching
language changes every visible string and persists; times are shown in Asia/Tokyo."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from browser.ui_support import PAGES, Browse, route_of, screenshot, wait_idle, wait_js
from playwright.sync_api import Page

from dashboard.grants import GrantStatus
from dashboard.keys import Role
from edge.protocol import SensorKind
from models.harvest.service import ForecastStatus
from notify.subscriptions import ChannelKind, Severity
from simulators.truth import Crop, Species
from storage.alert_types import AlertKind, AlertState
from storage.assets import Change
from storage.records import RecordKind

pytestmark = pytest.mark.integration

STATIC = Path(__file__).resolve().parents[2] / "dashboard" / "static"
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]")
KEY_SHAPE = re.compile(r"\b[a-z]+\.[a-z][A-Za-z0-9_]+\b")


def table(page: Page) -> dict[str, dict[str, str]]:
    """The translation table as the browser loads it."""
    result: dict[str, dict[str, str]] = page.evaluate(
        "import(new URL('strings.js', document.querySelector('script[type=module]').src))"
        ".then((m) => m.TABLE)"
    )
    return result


def keys_used() -> tuple[set[str], set[str]]:
    """Literal keys (`t('…')`, `data-i18n="…"`) and dynamic prefixes (`t(`kind.${…}`)`)."""
    literal: set[str] = set()
    prefixes: set[str] = set()
    for path in [*STATIC.glob("*.html"), *STATIC.glob("js/**/*.js")]:
        text = path.read_text(encoding="utf-8")
        literal |= set(re.findall(r"\bt\('([\w.]+)'", text))
        literal |= set(re.findall(r'data-i18n(?:-label)?="([\w.]+)"', text))
        prefixes |= set(re.findall(r"\bt(?:Or)?\(`(\w+)\.\$\{", text))
    return literal, prefixes


# Every value a dynamic key can take, from the enums that produce them.
DYNAMIC = {
    "sensorkind": [k.value for k in SensorKind],
    "alertkind": [k.value for k in AlertKind],
    "role": [r.value for r in Role],
    "kind": ["farm", "forest", "factory", "other"],
    "health": ["online", "offline"],
    "range": ["1d", "7d", "30d"],
    "crop": [c.value for c in Crop],
    "species": [s.value for s in Species],
    "forecaststatus": [s.value for s in ForecastStatus if s is not ForecastStatus.OK],
    "recordkind": [k.value for k in RecordKind],
    "change": [c.value for c in Change],
    "severity": [s.name.lower() for s in Severity],
    "inbox": ["state", "site", "kind"],
    "inbox.state": [s.value for s in AlertState],
    # Research grants: what a grant means now, and the channels of the download log.
    "grantstatus": [s.value for s in GrantStatus],
    "grantchannel": ["sta", "export"],
    # Channels of subscriptions and outbox items, and the outcomes of enabling push.
    "notify": [
        *(c.value for c in ChannelKind),
        "pushOn",
        "pushDenied",
        "pushUnsupported",
    ],
}


def test_every_key_has_japanese_and_english(browse: Browse) -> None:
    """No key lacks a language, and no entry is empty."""
    probe = browse.open("/signin", role=None)
    entries = table(probe.page)
    assert len(entries) > 100
    for key, entry in entries.items():
        assert set(entry) == {"ja", "en"}, key
        assert entry["ja"].strip() and entry["en"].strip(), key
        # Placeholders must match, or one language would show a hole or a raw `{name}`.
        assert set(re.findall(r"\{\w+\}", entry["ja"])) == set(re.findall(r"\{\w+\}", entry["en"]))


def test_every_key_used_exists(browse: Browse) -> None:
    """Every literal key in the HTML and JS, and every value of each dynamic key, is defined."""
    probe = browse.open("/signin", role=None)
    entries = table(probe.page)
    literal, prefixes = keys_used()
    assert len(literal) > 80
    missing = sorted(k for k in literal if k not in entries)
    assert not missing, missing
    assert prefixes <= set(DYNAMIC), prefixes - set(DYNAMIC)
    for prefix in prefixes:
        for value in DYNAMIC[prefix]:
            assert f"{prefix}.{value}" in entries, f"{prefix}.{value}"


def _fragments(text: str) -> list[str]:
    """The fixed parts of a table string (placeholders cut out)."""
    return [part.strip() for part in re.split(r"\{\w+\}", text) if part.strip()]


# Text the UI shows as data, marked translate="no" (ids, item names, the API's citation and
# explanations), is left out: it is the same in both languages by design.
_VISIBLE_UI_TEXT = """() => {
  const data = [...document.querySelectorAll('[translate="no"]')];
  const before = data.map((el) => el.style.display);
  data.forEach((el) => { el.style.display = 'none'; });
  const text = document.body.innerText;
  data.forEach((el, i) => { el.style.display = before[i]; });
  return text;
}"""


def _visible(page: Page) -> str:
    text: str = page.evaluate(_VISIBLE_UI_TEXT)
    return text


def _settled(page: Page, entries: dict[str, dict[str, str]], other: str) -> str:
    """The visible text once the page has re-rendered in the new language (at most 10 s).

    The header switches at once; a page's body re-renders after its data comes back, which
    may start after the network looked idle.
    """
    deadline = time.monotonic() + 10
    text = _visible(page)
    while _leftovers(text, entries, other) and time.monotonic() < deadline:
        time.sleep(0.1)
        text = _visible(page)
    return text


def _leftovers(text: str, entries: dict[str, dict[str, str]], other: str) -> list[str]:
    """Strings of the `other` language's table that appear in `text`."""
    mine = "en" if other == "ja" else "ja"
    found = []
    for entry in entries.values():
        if entry["ja"] == entry["en"]:
            continue
        own = set(_fragments(entry[mine]))
        for fragment in _fragments(entry[other]):
            if fragment in own or len(fragment) < (2 if other == "ja" else 4):
                continue
            pattern = (
                re.escape(fragment) if other == "ja" else rf"(?<!\w){re.escape(fragment)}(?!\w)"
            )
            if re.search(pattern, text):
                found.append(fragment)
    return found


@pytest.fixture
def browse(own_browse: Browse) -> Browse:
    """Pages over data of this module's own: another test's registered site keeps the Japanese
    name its operator gave it in English too, which is data, not an untranslated string."""
    return own_browse


@pytest.mark.parametrize("name", list(PAGES))
def test_switching_language_changes_every_visible_string(browse: Browse, name: str) -> None:
    """Japanese first; the switch turns every string English (and back), and it persists."""
    probe = browse.open(route_of(name, browse.env.sites), role=PAGES[name][1], lang="ja")
    page = probe.page
    entries = table(page)
    ja_text = _visible(page)
    assert CJK.search(ja_text), "Japanese is the default"
    assert not _leftovers(ja_text, entries, "en")
    page.click("#lang")
    wait_js(page, "document.documentElement.lang === 'en'")
    wait_idle(page)
    en_text = _settled(page, entries, "ja")
    switch = entries["lang.switch"]["en"]
    assert not CJK.search(en_text.replace(switch, "")), CJK.findall(en_text)
    assert not _leftovers(en_text, entries, "ja")
    assert not [k for k in KEY_SHAPE.findall(en_text) if k in entries], "untranslated key shown"
    screenshot(page, f"{name}-switched-en")
    page.reload()
    wait_idle(page)
    assert page.evaluate("document.documentElement.lang") == "en", "the choice persists"
    assert page.evaluate("localStorage.getItem('shinshu.lang')") == "en"
    page.click("#lang")
    wait_js(page, "document.documentElement.lang === 'ja'")
    wait_idle(page)
    assert not _leftovers(_settled(page, entries, "en"), entries, "en")
    probe.clean()


def test_times_are_shown_in_tokyo_whatever_the_browser_zone(browse: Browse) -> None:
    """The browser runs in UTC; a reading's time is shown as Japan time."""
    probe = browse.open(route_of("farm", browse.env.sites), role=Role.VIEWER, lang="ja")
    stamp = probe.page.locator(".tile time").first
    iso = stamp.get_attribute("datetime")
    assert iso
    tokyo = dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(ZoneInfo("Asia/Tokyo"))
    assert stamp.inner_text() == tokyo.strftime("%Y/%m/%d %H:%M")
    probe.clean()
