"""A researcher account with grants from two tenants, through the SensorThings API and exports.

Three tenants run the same kinds of sites under the same ids, so only grants keep them apart.
The account is granted alpha's farm and beta's forest stand; gamma grants nothing.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import Services, make_influx

from dashboard.app import create_app
from dashboard.grants import GrantStore
from dashboard.keys import Role
from simulators.backfill import backfill
from simulators.scenario import Scenario, Truth
from tests.dashboard.conftest import _api_settings

pytestmark = pytest.mark.integration

START = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
START_MS = int(START.timestamp() * 1000)
RANGE = {"start": "2025-06-01T00:00:00Z", "end": "2025-06-02T00:00:00Z"}
TENANTS = ("alpha", "beta", "gamma")
ACCOUNT = "shinshu-u-soil"
STA = "/sta/v1.1"


class Clock:
    """The grants' clock, moved by the test: seconds since the epoch."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC).timestamp()

    def __call__(self) -> float:
        return self.now


@dataclass
class Env:
    """The app, its client, the clock of its grants, and the tokens the test uses."""

    client: TestClient
    clock: Clock
    admins: dict[str, dict[str, str]]
    account: dict[str, str]
    sites: dict[str, dict[str, str]]

    def get(self, path: str, headers: dict[str, str], **params: Any) -> Any:
        """The JSON of a 200 answer."""
        response = self.client.get(path, params=params, headers=headers)
        assert response.status_code == 200, (path, response.text)
        return response.json()


def _sites(store: Any, tenant: str) -> dict[str, str]:
    """The tenant's farm (with leaf wetness) and forest (with stem radius) site ids."""
    found = {}
    for role, measurement in (("farm", "leaf_wetness"), ("forest", "stem_radius")):
        values = store.query(
            f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "site" WHERE "tenant" = \'{tenant}\''
        )
        found[role] = sorted(v for _, v in values[0]["series"][0]["values"])[0]
    return found


@pytest.fixture(scope="module")
def env(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """Three tenants backfilled for a day; admin keys of each and one researcher account."""
    database = f"research_{uuid.uuid4().hex[:10]}"
    store = make_influx(services.influx, database)
    store.ensure_database()
    for seed, tenant in enumerate(TENANTS, start=31):
        scenario = Scenario(1, 1, 1, START_MS, 86_400_000, 1_800_000, seed=seed)
        assert backfill(scenario, store, tenant, Truth(), progress=lambda _l: None).refused == 0
    settings = _api_settings(services, database, Path(tmp_path_factory.mktemp("research")))
    app = create_app(settings)
    clock = Clock()
    context = app.state.context
    app.state.context = dataclasses.replace(
        context, grants=GrantStore(settings.grants_path, clock=clock)
    )
    keys = context.keys
    admins = {t: {"X-API-Key": keys.create(t, Role.ADMIN, name="admin")[1]} for t in TENANTS}
    account = {"X-API-Key": keys.create(ACCOUNT, Role.RESEARCHER, name="Dr. Sato")[1]}
    with TestClient(app) as client:
        yield Env(client, clock, admins, account, {t: _sites(store, t) for t in TENANTS})


def _seen_sites(env: Env) -> dict[str, set[tuple[str, str]]]:
    """(tenant, site) of every Thing, Location and Datastream the account sees."""
    seen = {}
    for entity_set in ("Things", "Locations", "FeaturesOfInterest", "Datastreams"):
        body = env.get(f"{STA}/{entity_set}", env.account, **{"$top": "10000"})
        seen[entity_set] = {tuple(e["@iot.id"].split("~")[:2]) for e in body["value"]}
    return seen


def _export_sites(env: Env, tenant: str, **params: Any) -> tuple[int, set[str]]:
    """The status of the account's CSV export of `tenant`, and the sites of its rows."""
    response = env.client.get(
        f"/api/v1/tenants/{tenant}/exports/readings.csv",
        params={**RANGE, **params},
        headers=env.account,
    )
    if response.status_code != 200:
        return response.status_code, set()
    return 200, {row["site"] for row in csv.DictReader(io.StringIO(response.text))}


def _grant(env: Env, tenant: str, sites: list[str], *, hours: float) -> dict[str, Any]:
    """The account asks `tenant` for `sites`; its admin approves for `hours`."""
    asked = env.client.post(
        "/api/v1/research/grants",
        json={"tenant": tenant, "sites": sites, "purpose": "soil moisture across Nagano"},
        headers=env.account,
    )
    assert asked.status_code == 201, asked.text
    assert asked.json()["status"] == "requested"
    expires = dt.datetime.fromtimestamp(env.clock.now, dt.UTC) + dt.timedelta(hours=hours)
    approved = env.client.post(
        f"/api/v1/tenants/{tenant}/research/grants/{asked.json()['id']}/approve",
        json={"licence": f"CC-BY-4.0 ({tenant})", "expires": expires.isoformat()},
        headers=env.admins[tenant],
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "active"
    return approved.json()  # type: ignore[no-any-return]


def test_the_account_sees_exactly_its_granted_sites_until_each_grant_expires(env: Env) -> None:
    """Alpha's farm and beta's forest, in the SensorThings API and the exports; nothing of
    gamma; nothing of alpha once its grant has expired; every download in the right log."""
    alpha, beta = env.sites["alpha"], env.sites["beta"]
    # Before any approval: a request alone shares nothing.
    env.client.post(
        "/api/v1/research/grants",
        json={"tenant": "gamma", "sites": [env.sites["gamma"]["farm"]], "purpose": "asked"},
        headers=env.account,
    )
    assert all(not s for s in _seen_sites(env).values())
    assert _export_sites(env, "gamma")[0] == 403

    _grant(env, "alpha", [alpha["farm"]], hours=1)
    _grant(env, "beta", [beta["forest"]], hours=48)
    wanted = {("alpha", alpha["farm"]), ("beta", beta["forest"])}
    seen = _seen_sites(env)
    assert seen == {entity_set: wanted for entity_set in seen}
    # Every Observation of every Datastream the account sees is of a granted site.
    observations = env.get(f"{STA}/Observations", env.account, **{"$top": "5000"})["value"]
    assert observations
    assert {tuple(o["@iot.id"].split("~")[:2]) for o in observations} <= wanted
    # Exports: each tenant's granted site only; another of its sites, or gamma, is refused.
    assert _export_sites(env, "alpha") == (200, {alpha["farm"]})
    assert _export_sites(env, "beta") == (200, {beta["forest"]})
    assert _export_sites(env, "alpha", site=alpha["forest"])[0] == 403
    assert _export_sites(env, "gamma")[0] == 403
    gamma_id = f"gamma~{env.sites['gamma']['farm']}"
    missing = env.client.get(f"{STA}/Locations('{gamma_id}')", headers=env.account)
    assert missing.status_code == 404
    # The metadata carries the grant's own licence.
    meta = env.get("/api/v1/tenants/beta/exports/metadata", env.account, **RANGE)
    assert meta["licence"] == "CC-BY-4.0 (beta)"

    # Each admin sees the downloads of its own data, and only those.
    logs = {t: env.get(f"/api/v1/tenants/{t}/research/downloads", env.admins[t]) for t in TENANTS}
    assert logs["gamma"] == []
    for tenant in ("alpha", "beta"):
        assert {d["tenant"] for d in logs[tenant]} == {tenant}
        assert {d["researcher"] for d in logs[tenant]} == {ACCOUNT}
        assert {d["channel"] for d in logs[tenant]} == {"sta", "export"}
        export = next(d for d in logs[tenant] if d["channel"] == "export")
        assert export["what"].startswith(f"/api/v1/tenants/{tenant}/exports/readings.csv")
        assert export["items"] > 0
    alpha_rows = sum(
        d["items"] for d in logs["alpha"] if d["what"].startswith(f"{STA}/Observations")
    )
    assert alpha_rows == sum(1 for o in observations if o["@iot.id"].startswith("alpha~"))

    # Two hours later alpha's grant has expired: only beta's forest is left.
    env.clock.now += 2 * 3600
    seen = _seen_sites(env)
    assert seen == {entity_set: {("beta", beta["forest"])} for entity_set in seen}
    assert _export_sites(env, "alpha")[0] == 403
    statuses = {g["tenant"]: g["status"] for g in env.get("/api/v1/research/grants", env.account)}
    assert statuses == {"alpha": "expired", "beta": "active", "gamma": "requested"}


def test_an_embargoed_grant_opens_on_its_day(env: Env) -> None:
    """Granted with an embargo: nothing before it opens, the site from then on."""
    site = env.sites["gamma"]["forest"]
    now = dt.datetime.fromtimestamp(env.clock.now, dt.UTC)
    given = env.client.post(
        "/api/v1/tenants/gamma/research/grants",
        json={
            "researcher": ACCOUNT,
            "sites": [site],
            "licence": "CC0-1.0",
            "embargo": (now + dt.timedelta(hours=3)).isoformat(),
            "expires": (now + dt.timedelta(days=30)).date().isoformat(),
        },
        headers=env.admins["gamma"],
    )
    assert given.status_code == 201, given.text
    assert given.json()["status"] == "embargoed"
    assert ("gamma", site) not in _seen_sites(env)["Things"]
    env.clock.now += 4 * 3600
    assert ("gamma", site) in _seen_sites(env)["Things"]
    revoked = env.client.delete(
        f"/api/v1/tenants/gamma/research/grants/{given.json()['id']}", headers=env.admins["gamma"]
    )
    assert revoked.json()["status"] == "revoked"
    assert ("gamma", site) not in _seen_sites(env)["Things"]


def test_only_accounts_hold_grants_and_only_admins_decide(env: Env) -> None:
    """A tenant's admin key is not an account; the account cannot approve its own request."""
    refused = env.client.get("/api/v1/research/grants", headers=env.admins["alpha"])
    assert refused.status_code == 403
    asked = env.client.post(
        "/api/v1/research/grants",
        json={"tenant": "alpha", "sites": ["x"], "purpose": "self-approval"},
        headers=env.account,
    ).json()
    terms = {"licence": "CC-BY-4.0", "expires": "2099-01-01"}
    own = env.client.post(
        f"/api/v1/tenants/alpha/research/grants/{asked['id']}/approve",
        json=terms,
        headers=env.account,
    )
    assert own.status_code == 403
    other = env.client.post(
        f"/api/v1/tenants/beta/research/grants/{asked['id']}/approve",
        json=terms,
        headers=env.admins["beta"],
    )
    assert other.status_code == 404
    past = env.client.post(
        f"/api/v1/tenants/alpha/research/grants/{asked['id']}/approve",
        json={"licence": "CC-BY-4.0", "expires": "2001-01-01"},
        headers=env.admins["alpha"],
    )
    assert past.status_code == 400
    assert "future" in past.json()["detail"]


def test_a_tenant_cannot_make_a_researcher_account(env: Env) -> None:
    """A tenant's researcher key needs its sites; accounts are the platform's to make."""
    made = env.client.post(
        "/api/v1/tenants/alpha/keys", json={"role": "researcher"}, headers=env.admins["alpha"]
    )
    assert made.status_code == 400
    assert "account" in made.json()["detail"]
    whoami = env.get("/api/v1/whoami", env.account)
    assert whoami["account"] is True
    assert whoami["tenant"] == ACCOUNT


def test_dates_are_japan_days(env: Env) -> None:
    """A bare date opens an embargo at the start of that JST day, and ends a grant at its end."""
    jst = dt.timezone(dt.timedelta(hours=9))
    today = dt.datetime.fromtimestamp(env.clock.now, jst).date()
    embargo, expires = today + dt.timedelta(days=2), today + dt.timedelta(days=9)
    given = env.client.post(
        "/api/v1/tenants/alpha/research/grants",
        json={
            "researcher": ACCOUNT,
            "sites": [env.sites["alpha"]["forest"]],
            "licence": "CC-BY-4.0",
            "embargo": embargo.isoformat(),
            "expires": expires.isoformat(),
        },
        headers=env.admins["alpha"],
    )
    assert given.status_code == 201, given.text
    body = given.json()
    opens = dt.datetime.fromisoformat(body["embargo"])
    ends = dt.datetime.fromisoformat(body["expires"])
    assert opens == dt.datetime.combine(embargo, dt.time(), jst)
    assert ends == dt.datetime.combine(expires + dt.timedelta(days=1), dt.time(), jst)
    assert body["status"] == "embargoed"
