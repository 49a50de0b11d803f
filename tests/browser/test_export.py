"""The research export page: the citation and licence shown are the metadata endpoint's for
the chosen selection, and the download is the API's own CSV or Parquet file."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from browser.ui_support import Browse, Probe, wait_idle, wait_js

from dashboard.keys import Role

pytestmark = pytest.mark.integration

# Two days in Japan time, end date included: [2025-06-01 00:00, 2025-06-03 00:00) +09:00.
CHOSEN = {"start": "2025-06-01", "end": "2025-06-02"}
RANGE = {"start": "2025-05-31T15:00:00.000Z", "end": "2025-06-02T15:00:00.000Z"}


def _choose(browse: Browse) -> tuple[Probe, dict[str, Any]]:
    """The export page with the two days chosen; and the API's metadata for the same."""
    probe = browse.open("/export", role=Role.RESEARCHER, lang="en")
    page = probe.page
    page.fill("input[name=start]", CHOSEN["start"])
    page.fill("input[name=end]", CHOSEN["end"])
    env = browse.env
    sites = sorted(env.sites.values())
    response = httpx.get(
        f"{env.url}/api/v1/tenants/alpha/exports/metadata",
        params={**RANGE, "site": sites},
        headers={"X-API-Key": env.token(Role.RESEARCHER)},
    )
    response.raise_for_status()
    meta = response.json()
    wait_js(
        page,
        f"document.querySelector('#metadata')?.dataset.dataset === {meta['dataset_id']!r}",
    )
    wait_idle(page)
    return probe, meta


def test_citation_and_licence_are_the_metadata_endpoints(browse: Browse) -> None:
    """Same selection, same dataset id, citation and licence; every kind offered with its unit."""
    probe, meta = _choose(browse)
    page = probe.page
    assert page.inner_text("[data-field=citation]") == meta["citation"]
    assert page.inner_text("[data-field=licence]") == meta["licence"]
    offered = page.locator("input[name=kind]")
    assert offered.count() == len(meta["kinds"])
    for kind in meta["kinds"]:
        assert f"({kind['unit']})" in page.inner_text(f"label:has(input[value={kind['kind']}])")
    probe.clean()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_download_is_the_apis_file(browse: Browse, fmt: str) -> None:
    """The downloaded file is what the export endpoint sends for the same selection."""
    probe, _meta = _choose(browse)
    page = probe.page
    page.check(f"input[name=format][value={fmt}]")
    # Only one sensor kind, to keep the file small.
    for box in page.locator("input[name=kind]").all()[1:]:
        box.uncheck()
    kind = page.locator("input[name=kind]").first.get_attribute("value")
    with page.expect_download() as info:
        page.click("#download")
    path = info.value.path()
    assert info.value.suggested_filename.endswith(f".{fmt}")
    body = path.read_bytes()
    env = browse.env
    expected = httpx.get(
        f"{env.url}/api/v1/tenants/alpha/exports/readings.{fmt}",
        params={**RANGE, "site": sorted(env.sites.values()), "kind": kind},
        headers={"X-API-Key": env.token(Role.RESEARCHER)},
        timeout=60,
    ).content
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(body.decode())))
        assert rows and {r["kind"] for r in rows} == {kind}
        assert body == expected
    else:
        assert body[:4] == b"PAR1" and body[-4:] == b"PAR1"
        assert body == expected
    probe.clean()
