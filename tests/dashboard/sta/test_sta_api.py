"""The SensorThings API over the seeded store: entities, scoping, paging and filters."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pytest

from core.time import from_ms
from dashboard.keys import Role

if TYPE_CHECKING:
    from tests.dashboard.conftest import ApiEnv

pytestmark = pytest.mark.integration

BASE = "/sta/v1.1"


def _get(
    env: ApiEnv, path: str, role: Role = Role.VIEWER, tenant: str = "alpha", **params: Any
) -> Any:
    """The JSON of a 200 answer."""
    response = env.client.get(BASE + path, params=params, headers=env.headers(tenant, role))
    assert response.status_code == 200, response.text
    return response.json()


def _raw(env: ApiEnv, tenant: str, where: str = "") -> list[tuple[str, float]]:
    """Every raw point (ISO time, value) of the tenant's first air-temperature series."""
    site, device, sensor = env.first_series(tenant)
    answer = env.store.query(
        f'SELECT value FROM "air_temperature" WHERE "tenant" = \'{tenant}\' AND '
        f"\"site\" = '{site}' AND \"device\" = '{device}' AND \"sensor\" = '{sensor}'{where}",
        epoch="ms",
    )
    rows = answer[0]["series"][0]["values"]
    return [(from_ms(int(t)).isoformat().replace("+00:00", "Z"), float(v)) for t, v in rows]


def _datastream(env: ApiEnv, tenant: str = "alpha") -> str:
    site, device, sensor = env.first_series(tenant)
    return f"{tenant}~{site}~{device}~{sensor}"


def _all_pages(env: ApiEnv, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every entity of a collection, following @iot.nextLink."""
    body = _get(env, path, **params)
    items = list(body["value"])
    while "@iot.nextLink" in body:
        url = body["@iot.nextLink"]
        response = env.client.get(url, headers=env.headers("alpha", Role.VIEWER))
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["value"])
    return items


def test_things_are_the_tenants_devices_with_links(api_env: ApiEnv) -> None:
    """Each device is a Thing with an id, a selfLink that answers and navigation links."""
    devices = api_env.client.get(
        "/api/v1/tenants/alpha/devices", headers=api_env.headers("alpha", Role.VIEWER)
    ).json()
    things = _get(api_env, "/Things", **{"$top": "1000"})["value"]
    assert sorted(t["@iot.id"] for t in things) == sorted(
        f"alpha~{d['site']}~{d['device']}" for d in devices
    )
    first = things[0]
    again = api_env.client.get(
        first["@iot.selfLink"], headers=api_env.headers("alpha", Role.VIEWER)
    )
    assert again.json()["@iot.id"] == first["@iot.id"]
    for nav in ("Datastreams", "Locations", "HistoricalLocations"):
        assert first[f"{nav}@iot.navigationLink"].endswith(f"/{nav}")


def test_datastream_has_the_catalogue_unit_and_its_time_span(api_env: ApiEnv) -> None:
    """unitOfMeasurement is the kind's unit; phenomenonTime spans the raw points."""
    raw = _raw(api_env, "alpha")
    body = _get(api_env, f"/Datastreams('{_datastream(api_env)}')", **{"$expand": "Thing,Sensor"})
    assert body["unitOfMeasurement"]["symbol"] == "°C"
    assert body["phenomenonTime"] == f"{raw[0][0]}/{raw[-1][0]}"
    assert body["Sensor"]["@iot.id"] == "air_temperature"
    assert body["Thing"]["@iot.id"] == _datastream(api_env).rsplit("~", 1)[0]


def test_paging_observations_gives_exactly_the_raw_points(api_env: ApiEnv) -> None:
    """Following nextLink through pages of 50 yields every raw point once, in time order."""
    path = f"/Datastreams('{_datastream(api_env)}')/Observations"
    items = _all_pages(api_env, path, **{"$top": "50"})
    assert [(o["phenomenonTime"], o["result"]) for o in items] == _raw(api_env, "alpha")
    counted = _get(api_env, path, **{"$count": "true", "$top": "1"})
    assert counted["@iot.count"] == len(items)


@pytest.mark.parametrize(
    ("odata", "influxql", "python"),
    [
        (
            "phenomenonTime ge 2025-06-01T12:00:00Z and phenomenonTime lt 2025-06-02T00:00:00Z",
            " AND time >= '2025-06-01T12:00:00Z' AND time < '2025-06-02T00:00:00Z'",
            None,
        ),
        ("phenomenonTime gt 2025-06-02T06:00:00Z", " AND time > '2025-06-02T06:00:00Z'", None),
        ("result gt 20", "", lambda v: v > 20),
        ("result le 15.5 or result ge 25", "", lambda v: v <= 15.5 or v >= 25),
        # Not a vectorised shape: decided point by point.
        ("floor(result) ge 20", "", lambda v: math.floor(v) >= 20),
        (
            "not (result lt 18) and phenomenonTime le 2025-06-01T18:00:00Z",
            " AND time <= '2025-06-01T18:00:00Z'",
            lambda v: not v < 18,
        ),
    ],
)
def test_filter_keeps_exactly_the_raw_points_it_names(
    api_env: ApiEnv, odata: str, influxql: str, python: Any
) -> None:
    """Filters on phenomenonTime and result answer the raw points the same condition keeps."""
    expected = [p for p in _raw(api_env, "alpha", influxql) if python is None or python(p[1])]
    path = f"/Datastreams('{_datastream(api_env)}')/Observations"
    items = _all_pages(api_env, path, **{"$filter": odata, "$top": "100"})
    assert [(o["phenomenonTime"], o["result"]) for o in items] == expected
    assert expected


def test_orderby_result_desc_and_select(api_env: ApiEnv) -> None:
    """$orderby result desc gives the largest first; $select leaves only what was named."""
    path = f"/Datastreams('{_datastream(api_env)}')/Observations"
    body = _get(api_env, path, **{"$orderby": "result desc", "$top": "3", "$select": "result"})
    values = sorted((v for _, v in _raw(api_env, "alpha")), reverse=True)[:3]
    assert body["value"] == [{"result": v} for v in values]


def test_nested_expand_of_things_datastreams_observations(api_env: ApiEnv) -> None:
    """Things → Datastreams → Observations expands inline with the nested options."""
    thing = _datastream(api_env).rsplit("~", 1)[0]
    body = _get(
        api_env,
        f"/Things('{thing}')",
        **{"$expand": "Datastreams($filter=name eq 'x' or true;$expand=Observations($top=2))"},
    )
    streams = {d["@iot.id"]: d for d in body["Datastreams"]}
    observations = streams[_datastream(api_env)]["Observations"]
    assert [(o["phenomenonTime"], o["result"]) for o in observations] == _raw(api_env, "alpha")[:2]


def test_another_tenants_things_never_appear(api_env: ApiEnv) -> None:
    """Both tenants use the same site ids, yet each key sees only its own tenant's entities."""
    for tenant in ("alpha", "beta"):
        for entity_set in ("Things", "Datastreams", "Locations", "FeaturesOfInterest"):
            items = _get(api_env, f"/{entity_set}", tenant=tenant, **{"$top": "10000"})["value"]
            assert items
            assert all(i["@iot.id"].startswith(f"{tenant}~") for i in items)
    other = api_env.client.get(
        f"{BASE}/Datastreams('{_datastream(api_env, 'beta')}')/Observations",
        headers=api_env.headers("alpha", Role.VIEWER),
    )
    assert other.status_code == 404


def test_a_researcher_sees_only_its_sites_and_a_prefecture_nothing(api_env: ApiEnv) -> None:
    """A researcher key's Things are those of its shared sites; a prefecture key is refused."""
    site = api_env.first_site("alpha")
    things = _get(api_env, "/Things", role=Role.RESEARCHER, **{"$top": "10000"})["value"]
    assert things
    assert {t["properties"]["site"] for t in things} == {site}
    everything = _get(api_env, "/Things", **{"$top": "10000"})["value"]
    assert len(everything) > len(things)
    hidden = next(t for t in everything if t["properties"]["site"] != site)
    for path in (f"/Things('{hidden['@iot.id']}')", f"/Things('{hidden['@iot.id']}')/Datastreams"):
        response = api_env.client.get(
            BASE + path, headers=api_env.headers("alpha", Role.RESEARCHER)
        )
        assert response.status_code == 404, path
    observations = _get(api_env, "/Observations", role=Role.RESEARCHER, **{"$top": "10000"})
    assert observations["value"]
    assert all(o["@iot.id"].startswith(f"alpha~{site}~") for o in observations["value"])
    refused = api_env.client.get(
        f"{BASE}/Things", headers=api_env.headers("alpha", Role.PREFECTURE)
    )
    assert refused.status_code == 403
    assert api_env.client.get(f"{BASE}/Things").status_code == 401


@pytest.mark.parametrize(
    "params",
    [
        {"$filter": "result gt"},
        {"$filter": "result eq 'a"},
        {"$filter": "nosuchfunction(result) eq 1"},
        {"$filter": "Datastream/name eq 'x'"},
        {"$orderby": "result sideways"},
        {"$orderby": "Datastream/name"},
        {"$top": "-1"},
        {"$top": "10001"},
        {"$skip": "x"},
        {"$count": "maybe"},
        {"$select": "nosuchproperty"},
        {"$expand": "Things"},
        {"$resultFormat": "dataArray"},
        {"$filter": "(" * 100 + "result" + ")" * 100 + " eq 1"},
    ],
)
def test_unsupported_or_malformed_queries_are_400(api_env: ApiEnv, params: dict[str, str]) -> None:
    """Every query that cannot be answered as asked is a 400 that says why, never a 5xx."""
    path = f"{BASE}/Datastreams('{_datastream(api_env)}')/Observations"
    response = api_env.client.get(
        path, params=params, headers=api_env.headers("alpha", Role.VIEWER)
    )
    assert response.status_code == 400, response.text
    assert response.json()["detail"]


def test_unknown_ids_are_404(api_env: ApiEnv) -> None:
    """Ids that name nothing (or nothing of the key's tenant) are 404."""
    for path in (
        "/Things('nope')",
        "/Datastreams('a~b~c~d')",
        "/Observations('x~1')",
        "/Sensors('x')",
    ):
        response = api_env.client.get(BASE + path, headers=api_env.headers("alpha", Role.VIEWER))
        assert response.status_code == 404, (path, response.text)


@pytest.mark.parametrize(
    "odata",
    [
        "phenomenonTime gt 9999-12-31T00:00:00Z",
        "phenomenonTime lt 1900-01-01T00:00:00Z",
        "phenomenonTime gt 2025-06-02T00:00:00Z and phenomenonTime lt 2025-06-01T00:00:00Z",
    ],
)
def test_times_outside_the_data_give_nothing(api_env: ApiEnv, odata: str) -> None:
    """A range that holds no stored point, even one no store could read, is an empty page."""
    path = f"/Datastreams('{_datastream(api_env)}')/Observations"
    body = _get(api_env, path, **{"$filter": odata, "$count": "true"})
    assert body == {"@iot.count": 0, "value": []}


def test_deep_paging_over_every_datastream_is_refused(api_env: ApiEnv) -> None:
    """Paging far into the merged Observations of every series is a 400, not a huge read."""
    response = api_env.client.get(
        f"{BASE}/Observations",
        params={"$skip": "2000000"},
        headers=api_env.headers("alpha", Role.VIEWER),
    )
    assert response.status_code == 400
    assert "phenomenonTime" in response.json()["detail"]


def test_top_zero_gives_the_count_and_no_next_link(api_env: ApiEnv) -> None:
    """`$top=0` with `$count=true` answers only the count: no link that would repeat forever."""
    path = f"/Datastreams('{_datastream(api_env)}')/Observations"
    body = _get(api_env, path, **{"$top": "0", "$count": "true"})
    assert body == {"@iot.count": len(_raw(api_env, "alpha")), "value": []}
