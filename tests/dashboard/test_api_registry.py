"""The registry and work records through the API: who may write, bilingual 422s, CSV, exports."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.dashboard.conftest import ApiEnv

from dashboard.keys import Role

pytestmark = pytest.mark.integration

BASE = "/api/v1/tenants/alpha"
NEW_SITE = {
    "site": "matsumoto-new",
    "kind": "farm",
    "name_ja": "松本新圃場",
    "name_en": "Matsumoto new farm",
    "latitude": 36.23,
    "longitude": 137.97,
    "altitude_m": 590.0,
    "municipality": "松本市",
}


def test_operator_registers_a_site_that_the_site_list_shows_without_readings(
    api_env: ApiEnv,
) -> None:
    """A new site appears in GET /sites with its description, before any reading arrives."""
    operator = api_env.headers("alpha", Role.OPERATOR)
    created = api_env.client.post(f"{BASE}/registry/sites", json=NEW_SITE, headers=operator)
    assert created.status_code == 201, created.text
    again = api_env.client.post(f"{BASE}/registry/sites", json=NEW_SITE, headers=operator)
    assert again.status_code == 409
    sites = api_env.client.get(f"{BASE}/sites", headers=api_env.headers("alpha", Role.VIEWER))
    listed = {s["site"]: s for s in sites.json()}
    new = listed["matsumoto-new"]
    assert (new["registered"], new["kind"], new["devices"], new["last_seen"]) == (
        True,
        "farm",
        0,
        None,
    )
    assert (new["name_ja"], new["latitude"], new["longitude"]) == ("松本新圃場", 36.23, 137.97)
    # Sites with readings keep what they had, and say whether the registry describes them.
    with_readings = [s for s in listed.values() if s["devices"] > 0]
    assert with_readings and all(s["registered"] for s in with_readings)
    beta = api_env.client.get(
        "/api/v1/tenants/beta/sites", headers=api_env.headers("beta", Role.VIEWER)
    )
    assert "matsumoto-new" not in beta.text


def test_viewer_reads_the_registry_but_cannot_change_it(api_env: ApiEnv) -> None:
    """The viewer gets the registry and 403 on a write; nothing is written."""
    viewer = api_env.headers("alpha", Role.VIEWER)
    body = {**NEW_SITE, "site": "viewer-site"}
    refused = api_env.client.post(f"{BASE}/registry/sites", json=body, headers=viewer)
    assert refused.status_code == 403
    registry = api_env.client.get(f"{BASE}/registry", headers=viewer).json()
    assert "viewer-site" not in {s["site"] for s in registry["sites"]}
    assert registry["fields"] and registry["stands"] and registry["bins"]


def test_invalid_fields_are_all_listed_in_english_and_japanese(api_env: ApiEnv) -> None:
    """Range errors of the registry and FastAPI's own type errors both carry msg_ja."""
    operator = api_env.headers("alpha", Role.OPERATOR)
    site = api_env.registry_site("alpha", "bins")
    bad_bin = {
        "asset": "bad-bin",
        "item": "screw",
        "unit_kg": 0,
        "capacity": 100,
        "lead_time_h": 24,
        "reorder_point": 500,
        "tare_kg": -1,
    }
    answer = api_env.client.post(
        f"{BASE}/registry/sites/{site}/bins", json=bad_bin, headers=operator
    )
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert {tuple(d["loc"]) for d in detail} == {
        ("body", "unit_kg"),
        ("body", "reorder_point"),
        ("body", "tare_kg"),
    }
    assert all(d["msg"] and d["msg_ja"] and d["msg"] != d["msg_ja"] for d in detail)
    typed = api_env.client.post(
        f"{BASE}/registry/sites/{site}/bins",
        json={**bad_bin, "unit_kg": "heavy", "colour": "red"},
        headers=operator,
    )
    assert typed.status_code == 422
    by_field = {d["loc"][-1]: d["msg_ja"] for d in typed.json()["detail"]}
    assert by_field["unit_kg"] == "unit_kg は数値にしてください"
    assert by_field["colour"] == "colour という項目は受け付けません"


def test_a_bin_with_its_device_moved_keeps_its_history(api_env: ApiEnv) -> None:
    """Register, move the device, retire: three versions with who, two attachments."""
    operator = api_env.headers("alpha", Role.OPERATOR)
    site = api_env.registry_site("alpha", "bins")
    body = {
        "item": "washer M4",
        "unit_kg": 0.001,
        "capacity": 2000,
        "lead_time_h": 24,
        "device": "gw-1",
        "weight_sensor": "washer_weight",
    }
    url = f"{BASE}/registry/sites/{site}/bins"
    assert api_env.client.post(url, json={**body, "asset": "washers"}, headers=operator).is_success
    moved = api_env.client.put(f"{url}/washers", json={**body, "device": "gw-2"}, headers=operator)
    assert moved.json()["device"] == "gw-2"
    assert api_env.client.delete(f"{url}/washers", headers=operator).status_code == 200
    history = api_env.client.get(
        f"{BASE}/registry/sites/{site}/assets/washers/history",
        headers=api_env.headers("alpha", Role.VIEWER),
    ).json()
    assert [v["change"] for v in history["versions"]] == ["create", "update", "retire"]
    assert all(v["by"].endswith("(operator)") for v in history["versions"])
    assert [(a["device"], a["to"] is None) for a in history["attachments"]] == [
        ("gw-1", False),
        ("gw-2", False),
    ]
    gone = api_env.client.put(f"{url}/washers", json=body, headers=operator)
    assert gone.status_code == 404


def test_records_are_entered_listed_voided_and_exported_for_researchers(api_env: ApiEnv) -> None:
    """A harvest from a phone, listed beside its days; the researcher export covers shared sites."""
    operator = api_env.headers("alpha", Role.OPERATOR)
    farm = api_env.registry_site("alpha", "fields")
    registry = api_env.client.get(f"{BASE}/registry", params={"site": farm}, headers=operator)
    field = registry.json()["fields"][0]["asset"]
    harvest = {
        "site": farm,
        "asset": field,
        "kind": "harvest",
        "at": "2025-06-02",
        "quantity": 84.5,
        "grade": "A",
    }
    entered = api_env.client.post(f"{BASE}/records", json=harvest, headers=operator)
    assert entered.status_code == 201, entered.text
    record = entered.json()
    assert (record["unit"], record["by"].startswith("key:"), record["at"]) == (
        "kg",
        True,
        "2025-06-02T03:00:00Z",
    )
    wrong = api_env.client.post(
        f"{BASE}/records", json={**harvest, "kind": "stocktake"}, headers=operator
    )
    assert wrong.status_code == 422
    assert {d["loc"][-1] for d in wrong.json()["detail"]} == {"kind"}
    listed = api_env.client.get(
        f"{BASE}/records", params={"site": farm, **api_env.range}, headers=operator
    ).json()
    assert record["record"] in {r["record"] for r in listed}
    researcher = api_env.headers("alpha", Role.RESEARCHER)
    shared = api_env.first_site("alpha")
    exported = api_env.client.get(
        f"{BASE}/exports/records.csv", params=api_env.range, headers=researcher
    )
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["site"] for r in rows} <= {shared}
    assert (record["record"] in exported.text) == (farm == shared)
    if farm != shared:
        refused = api_env.client.get(
            f"{BASE}/exports/records.csv",
            params={"site": farm, **api_env.range},
            headers=researcher,
        )
        assert refused.status_code == 403
    voided = api_env.client.delete(
        f"{BASE}/sites/{farm}/records/{record['record']}", headers=operator
    )
    assert voided.json()["voided"] is True
    after = api_env.client.get(
        f"{BASE}/records", params={"site": farm, **api_env.range}, headers=operator
    ).json()
    assert record["record"] not in {r["record"] for r in after}


def test_csv_import_dry_run_then_real_and_export(api_env: ApiEnv) -> None:
    """A dry run lists refused rows (header is row 1) and stores nothing; the real run stores."""
    operator = api_env.headers("alpha", Role.OPERATOR)
    site = api_env.registry_site("alpha", "bins")
    text = (
        "site,asset,item,unit_kg,capacity,lead_time_h,reorder_point\n"
        f"{site},csv-1,ボルト M5,0.004,3000,24,300\n"
        f"{site},csv-2,bolt M6,0.006,0,24,\n"
        f"{site},csv-3,bolt M8,0.01,1000,24,2000\n"
    )
    headers = {**operator, "Content-Type": "text/csv"}
    url = f"{BASE}/imports/bins"
    dry = api_env.client.post(url, content=text.encode(), headers=headers)
    assert dry.status_code == 200, dry.text
    assert (dry.json()["dry_run"], dry.json()["stored"], dry.json()["valid"]) == (True, 0, 1)
    assert [(r["row"], r["errors"][0]["field"]) for r in dry.json()["refused"]] == [
        (3, "capacity"),
        (4, "reorder_point"),
    ]
    assert all(r["errors"][0]["ja"] for r in dry.json()["refused"])
    exported = api_env.client.get(f"{BASE}/exports/registry/bins.csv", headers=operator).text
    assert "csv-1" not in exported
    real = api_env.client.post(
        url, params={"dry_run": "false"}, content=text.encode("cp932"), headers=headers
    )
    assert (real.json()["stored"], len(real.json()["refused"])) == (1, 2)
    exported = api_env.client.get(
        f"{BASE}/exports/registry/bins.csv", headers=api_env.headers("alpha", Role.VIEWER)
    ).text
    rows = {r["asset"]: r for r in csv.DictReader(io.StringIO(exported))}
    assert rows["csv-1"]["item"] == "ボルト M5" and "csv-2" not in rows
