"""Field analytics over the API: roles, tenant isolation, dates, and VPD against the raw store."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest

if TYPE_CHECKING:
    from tests.dashboard.conftest import ApiEnv

from dashboard.keys import Role
from storage.assets import FieldAsset, read_assets, write_assets

pytestmark = pytest.mark.integration

AS_OF = "2025-06-02"


def _farm(api_env: ApiEnv, tenant: str) -> FieldAsset:
    """The tenant's first registered field at the farm site with leaf wetness."""
    site = api_env.registry_site(tenant, "fields")
    return sorted(read_assets(api_env.store, tenant, [site]).fields[site], key=lambda f: f.asset)[0]


def _get(api_env: ApiEnv, tenant: str, site: str, role: Role = Role.VIEWER, **params: str):  # type: ignore[no-untyped-def]
    """GET the analytics of `site` under the key's own tenant."""
    return api_env.client.get(
        f"/api/v1/tenants/{tenant}/fields/{site}/analytics",
        params=params,
        headers=api_env.headers(tenant, role),
    )


def _hourly_means(api_env: ApiEnv, tenant: str, field: FieldAsset, kind: str) -> np.ndarray:
    """Hourly means of JST 2 June 2025 read with InfluxQL, independent of the service."""
    device = f" AND \"device\" = '{field.device}'" if field.device else ""
    query = (
        f'SELECT mean("value") FROM "{kind}" WHERE "tenant" = \'{tenant}\' AND '
        f"\"site\" = '{field.site}'{device} AND time >= '2025-06-01T15:00:00Z' AND "
        "time < '2025-06-02T15:00:00Z' GROUP BY time(1h) fill(none)"
    )
    values = api_env.store.query(query)[0]["series"][0]["values"]
    assert len(values) == 24
    return np.array([v[1] for v in values], dtype=np.float64)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR, Role.ADMIN])
def test_readers_get_the_fields_analytics(api_env: ApiEnv, role: Role) -> None:
    """Every reading role gets the same answer, for the registered field's crop and day."""
    field = _farm(api_env, "alpha")
    response = _get(api_env, "alpha", field.site, role, as_of=AS_OF)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["site"], body["field"], body["crop"]) == (field.site, field.asset, field.crop)
    assert body["as_of"] == AS_OF
    for part in ("gdd", "stage", "chill", "vpd", "wetness", "scab"):
        assert (body[part] is None) == (part in body["absent"]), part
    if body["stage"] is not None:
        stage = body["stage"]["current"]
        assert {"bbch", "key", "name_ja", "name_en", "source"} <= set(stage)
    if body["gdd"] is not None:
        assert all({"date", "value"} <= set(d) for d in body["gdd"]["cumulative"])


def test_vpd_matches_the_stored_hourly_means(api_env: ApiEnv) -> None:
    """The day's mean VPD is the mean of FAO-56 VPD of the hourly means of the raw readings."""
    field = _farm(api_env, "alpha")
    body = _get(api_env, "alpha", field.site, as_of=AS_OF).json()
    t = _hourly_means(api_env, "alpha", field, "air_temperature")
    rh = np.minimum(_hourly_means(api_env, "alpha", field, "relative_humidity"), 100)
    vpd = 0.6108 * np.exp(17.27 * t / (t + 237.3)) * (1 - rh / 100)
    (day,) = [d for d in body["vpd"]["days"] if d["date"] == AS_OF]
    assert day["value"] == pytest.approx(vpd.mean(), abs=1e-3)
    assert day["max"] == pytest.approx(vpd.max(), abs=1e-3)
    assert day["hours"] == 24
    wet = _hourly_means(api_env, "alpha", field, "leaf_wetness")
    (hours,) = [d for d in body["wetness"]["days"] if d["date"] == AS_OF]
    assert hours["value"] == float((wet >= 50).sum())


def test_another_tenants_field_is_not_found(api_env: ApiEnv) -> None:
    """A field registered only in alpha is 404 for beta, and 403 under alpha's path for beta."""
    site = "alpha-only-field"
    asset = FieldAsset(site, "plot", "", "grape", 0.1)
    write_assets(api_env.store, "alpha", [asset])
    own = _get(api_env, "alpha", site, as_of=AS_OF)
    assert own.status_code == 200
    # Registered, but no readings: every part absent with a reason, not an error.
    assert own.json()["vpd"] is None and "air temperature" in own.json()["absent"]["vpd"]
    assert _get(api_env, "beta", site, as_of=AS_OF).status_code == 404
    foreign = api_env.client.get(
        f"/api/v1/tenants/alpha/fields/{site}/analytics",
        headers=api_env.headers("beta", Role.ADMIN),
    )
    assert foreign.status_code == 403


def test_tenants_with_the_same_site_id_get_their_own_values(api_env: ApiEnv) -> None:
    """Both tenants run the same site ids on different seeds; each VPD is its own store data."""
    alpha, beta = _farm(api_env, "alpha"), _farm(api_env, "beta")
    assert alpha.site == beta.site
    days = {
        tenant: [
            d["value"] for d in _get(api_env, tenant, alpha.site, as_of=AS_OF).json()["vpd"]["days"]
        ]
        for tenant in ("alpha", "beta")
    }
    assert days["alpha"] != days["beta"]


def test_dates_are_checked(api_env: ApiEnv) -> None:
    """Unparseable dates are 422 (with Japanese reasons), out-of-range ones 400."""
    site = _farm(api_env, "alpha").site
    bad = _get(api_env, "alpha", site, as_of="2025-13-01")
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["msg_ja"]
    assert _get(api_env, "alpha", site, as_of="1999-12-31").status_code == 400
    late = _get(api_env, "alpha", site, as_of=AS_OF, heading="2025-06-03")
    assert late.status_code == 400
    assert _get(api_env, "alpha", site, as_of=AS_OF, field="no-such-field").status_code == 404


def test_the_route_is_documented(api_env: ApiEnv) -> None:
    """The OpenAPI names the route and describes the parts."""
    schema = api_env.app.openapi()
    assert "/api/v1/tenants/{tenant}/fields/{site}/analytics" in schema["paths"]
    parts = schema["components"]["schemas"]["AnalyticsOut"]["properties"]
    assert parts["absent"]["description"]
    stage = schema["components"]["schemas"]["StageOut"]["properties"]
    assert {"bbch", "key", "name_ja", "name_en", "source"} <= set(stage)
