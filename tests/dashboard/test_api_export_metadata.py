"""The export metadata keeps its fields and adds JSON-LD; CSV rows carry provenance columns."""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING

from dashboard.keys import Role
from storage.assets import read_assets

if TYPE_CHECKING:
    from tests.dashboard.conftest import ApiEnv

PARAMS = {"start": "2025-06-01T00:00:00Z", "end": "2025-06-02T00:00:00Z"}


def test_metadata_has_its_fields_and_a_dcat_document(api_env: ApiEnv) -> None:
    """The earlier fields are all there; the JSON-LD names the site's place and the downloads."""
    site = api_env.first_site("alpha")
    place = read_assets(api_env.store, "alpha").sites[site]
    response = api_env.client.get(
        "/api/v1/tenants/alpha/exports/metadata",
        params=PARAMS,
        headers=api_env.headers("alpha", Role.RESEARCHER),
    )
    assert response.status_code == 200
    meta = response.json()
    for key in ("title", "dataset_id", "licence", "citation", "sites", "series", "columns"):
        assert key in meta
    names = [c["name"] for c in meta["columns"]]
    assert names[8:] == [
        "clock_corrected",
        "sequence_gap",
        "gap_before_s",
        "latitude",
        "longitude",
        "elevation_m",
    ]
    doc = meta["jsonld"]
    assert doc["@type"] == "dcat:Dataset"
    assert doc["dct:identifier"] == meta["dataset_id"]
    assert doc["dct:bibliographicCitation"] == meta["citation"]
    centroids = [s["dcat:centroid"]["@value"] for s in doc["dcat:spatial"]]
    assert f"POINT({place.longitude} {place.latitude})" in centroids
    urls = [d["dcat:downloadURL"]["@id"] for d in doc["dcat:distribution"]]
    assert [u.split("?")[0] for u in urls] == [
        "/api/v1/tenants/alpha/exports/readings.csv",
        "/api/v1/tenants/alpha/exports/readings.parquet",
    ]
    assert all(f"site={site}" in u for u in urls)


def test_csv_export_rows_carry_the_sites_coordinates(api_env: ApiEnv) -> None:
    """Each row of the researcher's site has the registered latitude, longitude and elevation."""
    site = api_env.first_site("alpha")
    place = read_assets(api_env.store, "alpha").sites[site]
    response = api_env.client.get(
        "/api/v1/tenants/alpha/exports/readings.csv",
        params=PARAMS,
        headers=api_env.headers("alpha", Role.RESEARCHER),
    )
    assert response.status_code == 200
    rows = list(csv.DictReader(response.text.splitlines()))
    assert rows
    assert {(r["site"], float(r["latitude"]), float(r["longitude"])) for r in rows} == {
        (site, place.latitude, place.longitude)
    }
    assert {float(r["elevation_m"]) for r in rows} == {place.altitude_m}
    assert {r["clock_corrected"] for r in rows} == {"false"}
