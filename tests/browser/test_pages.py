"""Every page in both languages at phone and desktop size: no console error, no failed
request, no horizontal scrolling, a screenshot of each."""

from __future__ import annotations

import pytest
from browser.ui_support import PAGES, Browse, route_of, screenshot

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("name", list(PAGES))
def test_page_loads_cleanly(browse: Browse, name: str, lang: str, viewport: str) -> None:
    """The page renders its content with 0 console errors and 0 failed requests."""
    route = route_of(name, browse.env.sites)
    probe = browse.open(route, role=PAGES[name][1], lang=lang, viewport=viewport)
    page = probe.page
    assert page.evaluate("document.documentElement.lang") == lang
    assert page.locator("main h1").first.is_visible()
    if viewport == "phone":
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at 360px"
    path = screenshot(page, f"{name}-{lang}-{viewport}")
    print(f"screenshot {path}")
    probe.clean()
