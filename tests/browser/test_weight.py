"""Page weight: every page transfers under 500 KB on a first load (cold cache), everything
included: shell, scripts, styles, chart library and API answers. First contentful paint is
printed here and measured properly by `bench/ui.py`."""

from __future__ import annotations

import pytest
from browser.ui_support import PAGES, Browse, route_of

pytestmark = pytest.mark.integration

MAX_PAGE_BYTES = 500_000


@pytest.mark.parametrize("name", list(PAGES))
def test_first_load_transfers_under_500_kb(browse: Browse, name: str) -> None:
    """Sum of every response's headers and body on a cold load."""
    probe = browse.open(route_of(name, browse.env.sites), role=PAGES[name][1], lang="ja")
    total = probe.transferred_bytes()
    fcp = probe.page.evaluate(
        "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"
    )
    print(f"{name}: {len(probe.responses)} requests, {total / 1000:.1f} kB, FCP {fcp} ms")
    assert len(probe.responses) >= 2
    assert total < MAX_PAGE_BYTES, f"{name} transferred {total} bytes"
    probe.clean()
