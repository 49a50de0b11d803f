"""Tenant isolation and the role matrix, checked on every route of the app's route table."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.dashboard.conftest import ApiEnv

from dashboard.auth import PERMISSIONS
from dashboard.keys import Role

pytestmark = pytest.mark.integration


def test_every_route_refuses_another_tenants_key_without_leaking(api_env: ApiEnv) -> None:
    """Beta's keys, of every role, get 403/404 on every route filled with alpha's real ids."""
    routes = api_env.routes()
    assert len(routes) >= 10
    alpha_site, alpha_device, _ = api_env.first_series("alpha")
    for route in routes:
        path = api_env.fill_path(route, "alpha")
        for role in Role:
            status, body = api_env.call(route, path, api_env.headers("beta", role))
            assert status in (403, 404), (route.path, role, status, body)
            assert set(json.loads(body)) == {"detail"}, (route.path, role, body)
            assert alpha_device not in body and alpha_site not in body


def test_own_tenant_gets_data_so_the_isolation_test_can_fail(api_env: ApiEnv) -> None:
    """The same calls with alpha's own keys succeed for the roles that have the permission."""
    for route in api_env.routes():
        permission = api_env.permission(route)
        role = next(r for r in Role if permission in PERMISSIONS[r])
        path = api_env.fill_path(route, "alpha")
        status, body = api_env.call(route, path, api_env.headers("alpha", role))
        if "{key_id}" in route.path:
            assert status == 404, body  # no such key: the lookup itself was allowed
        else:
            assert status in (200, 201, 202, 204), (route.path, role, status, body)


def test_each_role_can_do_exactly_its_permissions(api_env: ApiEnv) -> None:
    """For every route and role of the tenant: 403 exactly when the role lacks the permission."""
    checked = 0
    for route in api_env.routes():
        permission = api_env.permission(route)
        path = api_env.fill_path(route, "alpha")
        for role in Role:
            status, body = api_env.call(route, path, api_env.headers("alpha", role))
            if permission in PERMISSIONS[role]:
                assert status != 403, (route.path, role, body)
            else:
                assert status == 403, (route.path, role, status, body)
            checked += 1
    assert checked == len(api_env.routes()) * len(Role)


def test_role_matrix_is_as_documented() -> None:
    """Viewer reads; operator adds alerts, config and the registry; admin adds keys, devices and
    disaster sharing; researcher only exports; the prefecture only sees the shared list."""
    names = {role: {p.value for p in PERMISSIONS[role]} for role in Role}
    assert names[Role.VIEWER] == {"read"}
    assert names[Role.OPERATOR] == {
        "read",
        "acknowledge_alerts",
        "configure_devices",
        "manage_assets",
        "manage_alerts",
    }
    assert names[Role.ADMIN] == names[Role.OPERATOR] | {
        "manage_devices",
        "manage_keys",
        "manage_grants",
        "share_disaster",
    }
    assert names[Role.RESEARCHER] == {"export"}
    assert names[Role.PREFECTURE] == {"view_shared_disaster"}


def test_researcher_cannot_export_sites_not_shared(api_env: ApiEnv) -> None:
    """A researcher key covers only the sites shared with it."""
    sites = api_env.client.get(
        "/api/v1/tenants/alpha/sites", headers=api_env.headers("alpha", Role.VIEWER)
    ).json()
    shared = api_env.first_site("alpha")
    other = next(s["site"] for s in sites if s["site"] != shared)
    response = api_env.client.get(
        "/api/v1/tenants/alpha/exports/readings.csv",
        params={"site": other, "start": "2025-06-01T00:00:00Z", "end": "2025-06-02T00:00:00Z"},
        headers=api_env.headers("alpha", Role.RESEARCHER),
    )
    assert response.status_code == 403
    assert other in response.json()["detail"]
    params = {"site": shared, "start": "2025-06-01T00:00:00Z", "end": "2025-06-02T00:00:00Z"}
    allowed = api_env.client.get(
        "/api/v1/tenants/alpha/exports/readings.csv",
        params=params,
        headers=api_env.headers("alpha", Role.RESEARCHER),
    )
    assert allowed.status_code == 200
    assert len(allowed.text.splitlines()) > 100
