"""Alert routes: listing by state and site, acknowledgement by role, tenant isolation by id."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.dashboard.conftest import ApiEnv

from dashboard.keys import Role
from storage.alert_types import Alert, AlertKind
from storage.alerts import AlertStore

pytestmark = pytest.mark.integration

HOUR_MS = 3_600_000


def _alert(env: ApiEnv, site: str, kind: AlertKind, hours: int) -> Alert:
    at = env.start_ms + hours * HOUR_MS
    return Alert("alpha", site, "stock-gateway", "jars_weight", kind, at, 0.75, "test", at)


@pytest.fixture(scope="module")
def seeded(api_env: ApiEnv) -> list[Alert]:
    """Three more alerts of alpha at two sites (the fixture already stored one per tenant)."""
    alerts = [
        _alert(api_env, "matsumoto-foods", AlertKind.SPIKE, 30),
        _alert(api_env, "matsumoto-foods", AlertKind.REORDER, 40),
        _alert(api_env, "ina-electronics", AlertKind.DRIFT, 35),
    ]
    AlertStore(api_env.store).write(alerts)
    return alerts


def _key_id(env: ApiEnv, role: Role) -> str:
    return env.tokens["alpha", role].split("_")[1]


def test_list_newest_first_filtered_by_site_and_limited(
    api_env: ApiEnv, seeded: list[Alert]
) -> None:
    """Open alerts newest first; `site` and `limit` narrow the list; every field is there."""
    viewer = api_env.headers("alpha", Role.VIEWER)
    url = "/api/v1/tenants/alpha/alerts"
    everything = api_env.client.get(url, headers=viewer).json()
    assert [a["kind"] for a in everything] == ["reorder", "drift", "spike", "drop"]
    assert set(everything[0]) == {
        "id",
        "site",
        "device",
        "sensor",
        "kind",
        "score",
        "reason",
        "reason_ja",
        "raised_at",
        "last_seen_at",
        "acknowledged_at",
        "acknowledged_by",
        "acknowledged_note",
        "state",
        "resolved_at",
        "resolved_by",
        "resolution_note",
    }
    assert everything[0]["id"] == seeded[1].id and everything[0]["raised_at"].endswith("Z")
    foods = api_env.client.get(url, params={"site": "matsumoto-foods"}, headers=viewer).json()
    assert [a["kind"] for a in foods] == ["reorder", "spike"]
    two = api_env.client.get(url, params={"limit": 2, "state": "all"}, headers=viewer).json()
    assert [a["kind"] for a in two] == ["reorder", "drift"]
    assert api_env.client.get(url, params={"site": "nowhere"}, headers=viewer).json() == []
    kinds = {"kind": ["spike", "drift"], "state": "all"}
    assert [a["kind"] for a in api_env.client.get(url, params=kinds, headers=viewer).json()] == [
        "drift",
        "spike",
    ]
    refused = api_env.client.get(url, headers=api_env.headers("alpha", Role.RESEARCHER))
    assert refused.status_code == 403


def test_operator_acknowledges_once_viewer_may_not(api_env: ApiEnv, seeded: list[Alert]) -> None:
    """The operator's ack is recorded with its key id; a repeat keeps it; a viewer gets 403."""
    target = seeded[2].id
    url = f"/api/v1/tenants/alpha/alerts/{target}/acknowledge"
    viewer = api_env.client.post(url, headers=api_env.headers("alpha", Role.VIEWER))
    assert viewer.status_code == 403
    first = api_env.client.post(url, headers=api_env.headers("alpha", Role.OPERATOR))
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["id"] == target and body["acknowledged_by"] == _key_id(api_env, Role.OPERATOR)
    again = api_env.client.post(url, headers=api_env.headers("alpha", Role.ADMIN)).json()
    assert again["acknowledged_at"] == body["acknowledged_at"]
    assert again["acknowledged_by"] == body["acknowledged_by"]
    listing = "/api/v1/tenants/alpha/alerts"
    headers = api_env.headers("alpha", Role.VIEWER)
    open_ids = [a["id"] for a in api_env.client.get(listing, headers=headers).json()]
    acked = api_env.client.get(listing, params={"state": "acknowledged"}, headers=headers).json()
    assert target not in open_ids and [a["id"] for a in acked] == [target]


def test_operator_resolves_with_a_note_viewer_may_not(api_env: ApiEnv, seeded: list[Alert]) -> None:
    """Resolving needs a note-bearing body and an operator; the alert leaves the open list and
    shows in the resolved one with the note; a second resolution keeps the first."""
    target = seeded[0].id
    url = f"/api/v1/tenants/alpha/alerts/{target}/resolve"
    note = {"note": "scale re-zeroed / 計量器をゼロ点調整"}
    viewer = api_env.client.post(url, json=note, headers=api_env.headers("alpha", Role.VIEWER))
    assert viewer.status_code == 403
    operator = api_env.headers("alpha", Role.OPERATOR)
    assert api_env.client.post(url, headers=operator).status_code == 422  # no body
    done = api_env.client.post(url, json=note, headers=operator)
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["state"], body["resolution_note"]) == ("resolved", note["note"])
    assert body["resolved_by"] == _key_id(api_env, Role.OPERATOR) and body["acknowledged_at"]
    again = api_env.client.post(url, json={"note": "other"}, headers=operator).json()
    assert (again["resolved_at"], again["resolution_note"]) == (body["resolved_at"], note["note"])
    listing = "/api/v1/tenants/alpha/alerts"
    resolved = api_env.client.get(listing, params={"state": "resolved"}, headers=operator).json()
    assert [a["id"] for a in resolved] == [target]
    assert target not in [a["id"] for a in api_env.client.get(listing, headers=operator).json()]


def test_another_tenants_alert_id_is_not_found(api_env: ApiEnv, seeded: list[Alert]) -> None:
    """Beta's operator cannot acknowledge (or learn about) alpha's alert, nor a made-up id."""
    operator = api_env.headers("beta", Role.OPERATOR)
    for alert_id in (seeded[0].id, "not-an-alert", "0" * 12 + "-" + "0" * 16):
        url = f"/api/v1/tenants/beta/alerts/{alert_id}/acknowledge"
        response = api_env.client.post(url, headers=operator)
        assert response.status_code == 404, response.text
        assert "matsumoto" not in response.text
    listed = api_env.client.get(
        "/api/v1/tenants/beta/alerts", params={"state": "all"}, headers=operator
    ).json()
    assert {a["id"] for a in listed}.isdisjoint({a.id for a in seeded})
    assert len(listed) == 1  # beta's own seeded alert


def test_unknown_state_is_refused(api_env: ApiEnv) -> None:
    """`state` takes open, acknowledged or all only."""
    response = api_env.client.get(
        "/api/v1/tenants/alpha/alerts",
        params={"state": "closed"},
        headers=api_env.headers("alpha", Role.VIEWER),
    )
    assert response.status_code == 422
