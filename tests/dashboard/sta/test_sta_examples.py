"""Request examples of the SensorThings standard, against the seeded store.

The URLs follow OGC 18-088 (SensorThings API Part 1: Sensing, 1.1), sections 9.2 (resource
paths) and 9.3 (query options), with the store's ids in place of the standard's numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from dashboard.keys import Role

if TYPE_CHECKING:
    from tests.dashboard.conftest import ApiEnv

pytestmark = pytest.mark.integration

Check = Callable[[Any], bool]

EXAMPLES: list[tuple[str, dict[str, str], Check]] = [
    ("", {}, lambda b: {v["name"] for v in b["value"]} >= {"Things", "Datastreams"}),
    ("/Things", {}, lambda b: len(b["value"]) > 0),
    ("/Things({thing})", {}, lambda b: b["@iot.id"].count("~") == 2),
    ("/Things({thing})/Locations", {}, lambda b: b["value"][0]["location"]["type"] == "Point"),
    ("/Things({thing})/Datastreams", {}, lambda b: all("~" in d["@iot.id"] for d in b["value"])),
    ("/Datastreams({datastream})/Observations", {"$top": "5"}, lambda b: len(b["value"]) == 5),
    ("/Datastreams({datastream})/Thing", {}, lambda b: b["@iot.id"].count("~") == 2),
    ("/Datastreams({datastream})/Sensor", {}, lambda b: b["@iot.id"] == "air_temperature"),
    ("/Datastreams({datastream})/ObservedProperty", {}, lambda b: "definition" in b),
    ("/Observations", {"$top": "5", "$skip": "5"}, lambda b: len(b["value"]) == 5),
    ("/Observations", {"$count": "true", "$top": "1"}, lambda b: b["@iot.count"] > 1),
    (
        "/Observations",
        {"$select": "result,resultTime", "$top": "2"},
        lambda b: all(set(o) == {"result", "resultTime"} for o in b["value"]),
    ),
    (
        "/Observations",
        {"$orderby": "result", "$top": "10"},
        lambda b: [o["result"] for o in b["value"]] == sorted(o["result"] for o in b["value"]),
    ),
    (
        "/Observations",
        {"$filter": "result lt 10.00", "$top": "50"},
        lambda b: all(o["result"] < 10 for o in b["value"]),
    ),
    (
        "/Observations",
        {"$orderby": "phenomenonTime desc", "$top": "3"},
        lambda b: (
            [o["phenomenonTime"] for o in b["value"]]
            == sorted((o["phenomenonTime"] for o in b["value"]), reverse=True)
        ),
    ),
    (
        "/Observations",
        {"$expand": "Datastream", "$top": "1"},
        lambda b: "unitOfMeasurement" in b["value"][0]["Datastream"],
    ),
    (
        "/Observations",
        {"$expand": "FeatureOfInterest", "$top": "1"},
        lambda b: b["value"][0]["FeatureOfInterest"]["encodingType"] == "application/geo+json",
    ),
    (
        "/Things",
        {"$expand": "Datastreams/ObservedProperty"},
        lambda b: "ObservedProperty" in b["value"][0]["Datastreams"][0],
    ),
    (
        "/Things",
        {"$expand": "Datastreams($select=name)", "$select": "name"},
        lambda b: set(b["value"][0]["Datastreams"][0]) == {"name"},
    ),
    (
        "/Datastreams({datastream})",
        {"$expand": "Observations,ObservedProperty"},
        lambda b: len(b["Observations"]) > 0 and "ObservedProperty" in b,
    ),
    (
        "/Things",
        {"$filter": "substringof('a', name)"},
        lambda b: all("a" in t["name"] for t in b["value"]),
    ),
    (
        "/Datastreams",
        {"$filter": "unitOfMeasurement/symbol eq '°C'"},
        lambda b: b["value"] and all(d["unitOfMeasurement"]["symbol"] == "°C" for d in b["value"]),
    ),
    (
        "/Datastreams",
        {"$orderby": "name desc", "$top": "3"},
        lambda b: (
            [d["name"] for d in b["value"]] == sorted((d["name"] for d in b["value"]), reverse=True)
        ),
    ),
    ("/Sensors", {}, lambda b: any(s["@iot.id"] == "air_temperature" for s in b["value"])),
    (
        "/ObservedProperties",
        {"$filter": "name eq 'air temperature'"},
        lambda b: len(b["value"]) == 1,
    ),
    ("/FeaturesOfInterest", {}, lambda b: len(b["value"]) > 0),
    ("/Locations({site})/Things", {}, lambda b: len(b["value"]) > 0),
    ("/HistoricalLocations", {}, lambda b: b["value"] == []),
    (
        "/Observations",
        {"$filter": "year(phenomenonTime) eq 2025 and round(result) ge 0", "$top": "1"},
        lambda b: b["value"][0]["phenomenonTime"].startswith("2025"),
    ),
]


@pytest.mark.parametrize(("path", "params", "check"), EXAMPLES)
def test_standard_request_example(
    api_env: ApiEnv, path: str, params: dict[str, str], check: Check
) -> None:
    """Each example answers 200 with what the standard says it selects."""
    site, device, sensor = api_env.first_series("alpha")
    ids = {
        "thing": f"'alpha~{site}~{device}'",
        "datastream": f"'alpha~{site}~{device}~{sensor}'",
        "site": f"'alpha~{site}'",
    }
    response = api_env.client.get(
        "/sta/v1.1" + path.format(**ids),
        params=params,
        headers=api_env.headers("alpha", Role.VIEWER),
    )
    assert response.status_code == 200, response.text
    assert check(response.json())
