"""Disaster sharing: admins opt sites in; the prefecture and the public see only those sites'
levels and places, never a tenant's business data; the prefecture sees no tenant data at all."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.dashboard.conftest import ApiEnv

from dashboard.keys import Role
from storage.assets import SiteAsset, SiteKind
from tests.dashboard.test_api_landslide import write_rain

pytestmark = pytest.mark.integration
PREFECTURE = "nagano-pref"
SHARED_FIELDS = {
    "tenant",
    "site",
    "municipality",
    "latitude",
    "longitude",
    "level",
    "level_ja",
    "at",
}
STORM = [0.0] * (13 * 144) + [10.0] * 24


@pytest.fixture(scope="module")
def shared_env(api_env: ApiEnv) -> tuple[ApiEnv, dict[str, str]]:
    """Storms at alpha's registered hillside and its private slope, two dry weeks at beta's
    unregistered hillside; a prefecture key of the prefecture's own tenant."""
    write_rain(api_env, "alpha", "hill-alpha", STORM)
    write_rain(api_env, "alpha", "slope-private", STORM)
    write_rain(api_env, "beta", "hill-beta", [0.0] * (14 * 144))
    place = SiteAsset(
        "hill-alpha", SiteKind.FOREST, "北斜面", "North slope", 36.2481, 137.9712, 820.0
    )
    api_env.app.state.context.registry.save(
        "alpha", [SiteAsset(**{**_fields(place), "municipality": "松本市"})], by="tests"
    )
    token = api_env.app.state.context.keys.create(PREFECTURE, Role.PREFECTURE)[1]
    return api_env, {"X-API-Key": token}


def _fields(site: SiteAsset) -> dict[str, object]:
    return {name: getattr(site, name) for name in SiteAsset.__slots__}


def _share(env: ApiEnv, tenant: str, site: str, shared: bool, role: Role = Role.ADMIN) -> int:
    response = env.client.put(
        f"/api/v1/tenants/{tenant}/sites/{site}/disaster-sharing",
        json={"shared": shared},
        headers=env.headers(tenant, role),
    )
    return response.status_code


def _prefecture_list(env: ApiEnv, key: dict[str, str]) -> list[dict[str, object]]:
    response = env.client.get(f"/api/v1/tenants/{PREFECTURE}/disaster/shared", headers=key)
    assert response.status_code == 200, response.text
    return list(response.json())


def test_only_admins_opt_their_own_sites_in(shared_env: tuple[ApiEnv, dict[str, str]]) -> None:
    """Viewers and operators may not; another tenant's admin may not; off until set."""
    env, _ = shared_env
    url = "/api/v1/tenants/alpha/sites/hill-alpha/disaster-sharing"
    assert env.client.get(url, headers=env.headers("alpha", Role.VIEWER)).json() == {
        "site": "hill-alpha",
        "shared": False,
    }
    assert _share(env, "alpha", "hill-alpha", True, Role.VIEWER) == 403
    assert _share(env, "alpha", "hill-alpha", True, Role.OPERATOR) == 403
    refused = env.client.put(url, json={"shared": True}, headers=env.headers("beta", Role.ADMIN))
    assert refused.status_code == 403
    assert _share(env, "alpha", "nowhere", True) == 404
    assert env.client.get(url, headers=env.headers("alpha", Role.VIEWER)).json()["shared"] is False


def test_the_prefecture_sees_opted_in_sites_of_every_tenant_and_nothing_else(
    shared_env: tuple[ApiEnv, dict[str, str]],
) -> None:
    """Two sites shared by two tenants: both listed with level, time and place; the private
    slope, readings, SWI and devices are not; opting out removes a site at once."""
    env, key = shared_env
    assert _prefecture_list(env, key) == []
    assert _share(env, "alpha", "hill-alpha", True) == 200
    assert _share(env, "beta", "hill-beta", True) == 200
    listed = _prefecture_list(env, key)
    assert [(s["tenant"], s["site"]) for s in listed] == [
        ("alpha", "hill-alpha"),
        ("beta", "hill-beta"),
    ]
    assert all(set(s) == SHARED_FIELDS for s in listed)
    alpha, beta = listed
    assert (alpha["level"], alpha["level_ja"], alpha["municipality"]) == (
        "warning",
        "警戒",
        "松本市",
    )
    assert (alpha["latitude"], alpha["longitude"]) == (36.2481, 137.9712)
    assert (beta["level"], beta["latitude"], beta["municipality"]) == ("none", None, None)
    text = json.dumps(listed, ensure_ascii=False)
    for secret in ("slope-private", "wx", "rain", "swi", "r60", "北斜面", "North slope"):
        assert secret not in text, secret
    assert _share(env, "beta", "hill-beta", False) == 200
    assert [s["site"] for s in _prefecture_list(env, key)] == ["hill-alpha"]
    assert _share(env, "beta", "hill-beta", True) == 200


def test_the_prefecture_key_gets_403_on_every_tenant_route(
    shared_env: tuple[ApiEnv, dict[str, str]],
) -> None:
    """Every route of the table, with alpha's real ids and with the prefecture's own tenant:
    403, and no tenant data in the answer."""
    env, key = shared_env
    site, device, _ = env.first_series("alpha")
    for route in env.routes():
        if route.path.endswith("/disaster/shared"):
            continue
        path = env.fill_path(route, "alpha")
        status, body = env.call(route, path, key)
        assert status == 403, (route.path, status, body)
        assert site not in body and device not in body
        # Its own tenant holds nothing it may read either (the role, not the tenant, refuses).
        own = path.replace("/tenants/alpha/", f"/tenants/{PREFECTURE}/")
        method = sorted(route.methods)[0]
        response = env.client.request(method, own, json={}, headers=key)
        assert response.status_code == 403, (own, response.text)


def test_tenant_keys_do_not_see_the_shared_list(shared_env: tuple[ApiEnv, dict[str, str]]) -> None:
    """A viewer (or admin) of a tenant gets 403 on the prefecture's list, and its own levels
    list holds only its own sites."""
    env, _ = shared_env
    for role in (Role.VIEWER, Role.ADMIN):
        for tenant in ("alpha", PREFECTURE):
            response = env.client.get(
                f"/api/v1/tenants/{tenant}/disaster/shared", headers=env.headers("alpha", role)
            )
            assert response.status_code == 403
            assert "hill-beta" not in response.text
    levels = env.client.get(
        "/api/v1/tenants/beta/landslide/levels", headers=env.headers("beta", Role.VIEWER)
    ).json()
    assert [x["site"] for x in levels] == ["hill-beta"]


def test_the_public_list_and_page_need_no_key_and_show_only_shared_sites(
    shared_env: tuple[ApiEnv, dict[str, str]],
) -> None:
    """The same list as the prefecture's, without a key; the /status page is served too; an
    admin creating a prefecture key through the API is refused."""
    env, key = shared_env
    assert _share(env, "alpha", "hill-alpha", True) == 200
    public = env.client.get("/api/v1/public/disaster")
    assert public.status_code == 200
    assert public.json() == _prefecture_list(env, key)
    assert {s["site"] for s in public.json()} == {"hill-alpha", "hill-beta"}
    assert all(set(s) == SHARED_FIELDS for s in public.json())
    assert "slope-private" not in public.text
    page = env.client.get("/status")
    assert page.status_code == 200
    assert "js/status.js" in page.text and "{{version}}" not in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    made = env.client.post(
        "/api/v1/tenants/alpha/keys",
        json={"role": "prefecture"},
        headers=env.headers("alpha", Role.ADMIN),
    )
    assert made.status_code == 403
