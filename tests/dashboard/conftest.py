"""Fixtures of the API tests: two tenants of simulated data in a real InfluxDB, keys per role."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from support import Services, make_influx

from core.settings import ApiSettings, Settings, load_api_settings
from dashboard.app import create_app
from dashboard.auth import Permission
from dashboard.keys import Role
from edge.protocol import SensorKind
from notify.subscriptions import ChannelKind, Subscription
from simulators.backfill import backfill
from simulators.scenario import Scenario, Truth
from storage.alert_types import Alert, AlertKind, AlertState
from storage.alerts import AlertStore
from storage.assets import read_assets
from storage.influx.client import InfluxStore
from storage.records import RecordKind, WorkRecord
from storage.rules import Comparison, ThresholdRule, write_rule

START = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
START_MS = int(START.timestamp() * 1000)
DAYS = 2
# Both tenants run the same kinds of sites under the same ids: only the tenant tag separates them.
SCENARIOS = {
    "alpha": Scenario(1, 1, 1, START_MS, DAYS * 86_400_000, 600_000, seed=11),
    "beta": Scenario(1, 1, 1, START_MS, DAYS * 86_400_000, 600_000, seed=22),
}
# Routes that describe the caller's own key and take no tenant (tested in tests/browser).
CALLER_ROUTES = {
    "/api/v1/whoami",
    "/api/v1/push/key",
    # A researcher account's own grants and downloads (tests/dashboard/test_api_research.py).
    "/api/v1/research/grants",
    "/api/v1/research/downloads",
}
# Routes without a key (tested in tests/dashboard/test_api_disaster.py).
PUBLIC_ROUTES = {"/api/v1/public/disaster"}
PUSH_SUBSCRIPTION = {
    "endpoint": "https://push.example.org/send/abc",
    # A real P-256 point (base64url) and a 16-byte auth secret, as a browser would give.
    "keys": {
        "p256dh": "BDWcYViluDHCaoyoB-jP2duftiWsB8UPk7ha0hRZKEjgabvbQouTQBy2yd-2QxICF9rv60hTC"
        "uPsLX0YRriVUQo",
        "auth": "BDCGAywP3UztqL1TtLGiyA",
    },
}
RANGE = {"start": "2025-06-01T00:00:00Z", "end": "2025-06-03T00:00:00Z"}


@dataclass(frozen=True)
class RouteInfo:
    """A route of the table with its full path."""

    path: str
    methods: set[str]
    route: APIRoute


def _walk(routes: list[Any], prefix: str) -> Iterator[RouteInfo]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield RouteInfo(prefix + route.path, set(route.methods), route)
        elif hasattr(route, "original_router"):
            # Newer FastAPI keeps included routers as branches instead of copying their routes.
            yield from _walk(route.original_router.routes, prefix + route.include_context.prefix)


def first_site(store: InfluxStore, tenant: str, measurement: str | None = None) -> str:
    """The first site id of `tenant` in the store (with readings of `measurement`, if given)."""
    source = f' FROM "{measurement}"' if measurement else ""
    values = store.query(f'SHOW TAG VALUES{source} WITH KEY = "site" WHERE "tenant" = \'{tenant}\'')
    return sorted(v for _, v in values[0]["series"][0]["values"])[0]


@dataclass
class ApiEnv:
    """A running app over two tenants' data, a client, a token per (tenant, role), helpers."""

    app: FastAPI
    client: TestClient
    store: InfluxStore
    tokens: dict[tuple[str, Role], str]
    settings: ApiSettings
    range: dict[str, str]
    start_ms: int

    def headers(self, tenant: str, role: Role) -> dict[str, str]:
        """The auth header of the key of `tenant` with `role`."""
        return {"X-API-Key": self.tokens[tenant, role]}

    def first_series(self, tenant: str) -> tuple[str, str, str]:
        """(site, device, sensor) of one series of `tenant`, from the store itself."""
        series = self.store.query(
            f'SHOW SERIES FROM "air_temperature" WHERE "tenant" = \'{tenant}\''
        )[0]["series"][0]["values"]
        tags = dict(part.split("=", 1) for part in series[0][0].split(",")[1:])
        return tags["site"], tags["device"], tags["sensor"]

    def first_site(self, tenant: str) -> str:
        """The site the tenant's researcher key may export."""
        return first_site(self.store, tenant)

    def routes(self) -> list[RouteInfo]:
        """Every route under /api/v1, from the app's route table (checked against the OpenAPI)."""
        found = [r for r in _walk(self.app.routes, "") if r.path.startswith("/api/v1/")]
        documented = {p for p in self.app.openapi()["paths"] if p.startswith("/api/v1/")}
        assert {r.path for r in found} == documented
        # Routes about the calling key itself hold no tenant data; every other route must be
        # scoped by a tenant in its path, so that the isolation tests cover it.
        about_caller = {r.path for r in found if "{tenant}" not in r.path}
        assert about_caller == CALLER_ROUTES | PUBLIC_ROUTES, about_caller
        return [r for r in found if "{tenant}" in r.path]

    @staticmethod
    def permission(info: RouteInfo) -> Permission:
        """The permission a route's dependencies demand (declared by `dashboard.deps.requires`)."""
        found = [
            d.call.permission  # type: ignore[union-attr]
            for d in info.route.dependant.dependencies
            if hasattr(d.call, "permission")
        ]
        assert len(found) == 1, f"{info.path} must require exactly one permission"
        return found[0]

    def fill_path(self, route: RouteInfo, tenant: str) -> str:
        """The route's path with real ids of `tenant` in every parameter."""
        site, device, sensor = self.first_series(tenant)
        values = {"tenant": tenant, "site": site, "device": device, "sensor": sensor}
        values["key_id"] = "0" * 12
        if "/stands/{site}" in route.path:
            # A rotation exists only for a forest stand: a site with dendrometers.
            values["site"] = first_site(self.store, tenant, "stem_radius")
        if "/fields/{site}" in route.path:
            # A harvest forecast exists only for a farm field: a site with a leaf-wetness sensor.
            values["site"] = first_site(self.store, tenant, "leaf_wetness")
        if "{bin}" in route.path:
            # A registered bin of a factory site.
            first = min(read_assets(self.store, tenant).all_bins(), key=lambda b: (b.site, b.asset))
            values["site"], values["bin"] = first.site, first.asset
        values["alert_id"] = AlertStore(self.store).list_alerts(tenant, AlertState.ALL)[-1].alert.id
        if "/devices/{site}/{device}" in route.path:
            # A registered device (registered anew each time: a route may revoke it).
            self.app.state.context.devices().issue_devices([(tenant, site, device)], actor="tests")
        self._fill_registry(route.path, tenant, values)
        return route.path.format(**values)

    def registry_site(self, tenant: str, kind: str) -> str:
        """The tenant's site with fields ("fields"), stands ("stands") or bins ("bins")."""
        measurement = {"fields": "leaf_wetness", "stands": "stem_radius", "bins": "bin_weight"}
        return first_site(self.store, tenant, measurement[kind])

    def _fill_registry(self, path: str, tenant: str, values: dict[str, str]) -> None:
        """Real registry ids: a fresh entry (a route may retire it) of the kind the path names."""
        service = self.app.state.context.registry
        values["what"] = "bins"
        if "/registry/sites/{site}/" in path:
            noun = path.split("/registry/sites/{site}/")[1].split("/", maxsplit=1)[0]
            kind = noun if noun in ("fields", "stands", "bins") else "bins"
            site = values["site"] = self.registry_site(tenant, kind)
            if "{asset}" in path:
                registry = service.registry(tenant, [site])
                model = getattr(registry, kind)[site][0]
                fresh = replace(model, asset=f"{kind}-{uuid.uuid4().hex[:10]}")
                service.save(tenant, [fresh], by="tests")
                values["asset"] = fresh.asset
        if "{subscription}" in path:
            made = Subscription("", tenant, "tests", ChannelKind.EMAIL, "ops@example.jp")
            store = self.app.state.context.notifications.subscriptions
            values["subscription"] = store.add(made, now_ms=self.start_ms).id
        if "{rule}" in path:
            rule = ThresholdRule(
                f"rule-{uuid.uuid4().hex[:8]}",
                "乾燥",
                SensorKind.SOIL_MOISTURE,
                Comparison.BELOW,
                20.0,
                360.0,
            )
            write_rule(self.store, tenant, rule, by="tests", change="create")
            values["rule"] = rule.rule
        if "{grant}" in path:
            # A fresh request (a route may approve, reject or revoke it).
            grants = self.app.state.context.grants
            made = grants.request(
                researcher="lab", tenant=tenant, sites=["s"], purpose="tests", by="tests"
            )
            values["grant"] = made.id
        if "{record}" in path:
            site = values["site"] = self.registry_site(tenant, "bins")
            bin_ = service.registry(tenant, [site]).bins[site][0]
            record = WorkRecord(site, bin_.asset, RecordKind.DELIVERY, self.start_ms, quantity=5)
            values["record"] = service.add_records(tenant, [record], by="tests")[0].record

    @staticmethod
    def _research_body(path: str) -> dict[str, object] | None:
        """A valid body for the research grant routes at `path`, None for others."""
        terms = {"licence": "CC-BY-4.0", "expires": "2099-03-31"}
        if path.endswith("/research/grants"):
            return {"researcher": "lab", "sites": ["s"], **terms}
        if path.endswith("/approve"):
            return terms
        if path.endswith("/reject"):
            return {"note": "not now"}
        return None

    @staticmethod
    def _notification_body(path: str) -> dict[str, object] | None:
        """A valid body for the notification and rule routes at `path`, None for others."""
        if path.endswith("/notifications/subscriptions"):
            return {"channel": "webhook", "target": "https://hooks.example.org/shinshu"}
        if path.endswith("/notifications/push"):
            return {"subscription": PUSH_SUBSCRIPTION, "lang": "en"}
        if path.endswith("/disaster-sharing"):
            return {"shared": False}
        if path.endswith("/landslide/thresholds"):
            return {"caution_swi_mm": 90, "warning_swi_mm": 140, "danger_swi_mm": 190}
        if "/alert-rules" in path:
            return {
                "name": "乾燥",
                "kind": "soil_moisture",
                "comparison": "below",
                "threshold": 20,
                "duration_min": 360,
            }
        return None

    def _registry_body(self, path: str) -> dict[str, object] | None:
        """A valid body for the registry's POST and PUT routes at `path`, None for others."""
        fresh = uuid.uuid4().hex[:10]
        tenant = path.split("/")[4]
        if path.endswith("/registry/sites"):
            site = {"kind": "farm", "name_ja": "新しい圃場", "latitude": 36.2, "longitude": 137.9}
            return {**site, "site": f"site-{fresh}", "altitude_m": 600.0}
        if "/registry/sites/" in path and path.count("/") == 7:
            site = self.app.state.context.registry.registry(tenant).sites[
                path.rsplit("/", maxsplit=1)[-1]
            ]
            return {
                "kind": site.kind.value,
                "name_ja": site.name_ja,
                "name_en": site.name_en,
                "latitude": site.latitude,
                "longitude": site.longitude,
                "altitude_m": site.altitude_m,
            }
        bodies: dict[str, dict[str, object]] = {
            "fields": {"crop": "lettuce", "area_ha": 0.3, "plantings": ["2025-04-20"]},
            "stands": {"species": "larch", "area_ha": 2.0, "age_years": 30, "age_on": "2025-04-01"},
            "bins": {"item": "washer", "unit_kg": 0.001, "capacity": 1000, "lead_time_h": 24},
        }
        for noun, body in bodies.items():
            if path.endswith(f"/{noun}"):
                return {**body, "asset": f"{noun}-{fresh}"}
            if f"/{noun}/" in path and "/registry/" in path:
                return body
        if path.endswith("/records"):
            site = self.registry_site(tenant, "fields")
            field = self.app.state.context.registry.registry(tenant, [site]).fields[site][0]
            return {
                "site": site,
                "asset": field.asset,
                "kind": "harvest",
                "at": "2025-06-02",
                "quantity": 12.5,
                "grade": "A",
            }
        return None

    def call(self, route: RouteInfo, path: str, headers: dict[str, str]) -> tuple[int, str]:
        """Call `route` at `path` with valid query parameters and body; return status, body."""
        method = sorted(route.methods)[0]
        body: dict[str, object] | None = {"role": "viewer"} if method == "POST" else None
        if route.path.endswith("/imports/{what}"):
            tenant = path.split("/")[4]
            site = self.registry_site(tenant, "bins")
            header = "site,asset,item,unit_kg,capacity,lead_time_h\n"
            csv = f"{header}{site},b-{uuid.uuid4().hex[:8]},nut,0.01,100,24\n"
            response = self.client.post(
                path,
                params={"dry_run": "false"},
                content=csv.encode(),
                headers={**headers, "Content-Type": "text/csv"},
            )
            return response.status_code, response.text
        if method in ("POST", "PUT"):
            body = (
                self._registry_body(path)
                or self._notification_body(path)
                or self._research_body(path)
                or body
            )
        if route.path.endswith("/devices"):
            body = {"site": "registry-site", "device": f"new-{uuid.uuid4().hex[:12]}"}
        elif route.path.endswith("/config"):
            body = {"rev": 1, "sensors": {"air": {"interval_s": 30}}}
        response = self.client.request(method, path, params=RANGE, json=body, headers=headers)
        return response.status_code, response.text


def _api_settings(services: Services, database: str, data_dir: Path, **env: str) -> ApiSettings:
    secrets = services.broker.secrets_path
    store = Settings(
        mqtt_url=services.broker.url,
        # The API's own account (configuration down to devices) and the control account
        # (device registration) of the shared broker.
        mqtt_password_file=secrets / "shinshu-api.secret",
        control_password_file=secrets / "shinshu-control.secret",
        influx_url=services.influx.url,
        influx_db=database,
        data_dir=data_dir,
        notify_vapid_contact="mailto:ops@shinshu.example",
    )
    # Every request of a test client comes from one address, and the route-table tests send
    # wrong keys on purpose: the limits are tested by tests that set them low.
    defaults = {
        "SHINSHU_API_RATE_PER_S": "100000",
        "SHINSHU_API_RATE_BURST": "100000",
        "SHINSHU_API_AUTH_FAILURE_BURST": "100000",
    }
    return load_api_settings(store, env={**defaults, **env})


ApiSettingsFactory = Callable[..., ApiSettings]


@pytest.fixture
def make_api_settings(services: Services) -> ApiSettingsFactory:
    """Settings of an app on `database` of the shared InfluxDB: (database, data_dir, **env)."""

    def make(database: str, data_dir: Path, **env: str) -> ApiSettings:
        return _api_settings(services, database, data_dir, **env)

    return make


@pytest.fixture(scope="module")
def api_env(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    """Two tenants backfilled into a fresh database; one key per tenant and role."""
    database = f"api_{uuid.uuid4().hex[:10]}"
    store = make_influx(services.influx, database)
    store.ensure_database()
    for tenant, scenario in SCENARIOS.items():
        report = backfill(scenario, store, tenant, Truth(), progress=lambda _line: None)
        assert report.refused == 0
        # A stored alert per tenant, so that routes taking an alert id get a real one.
        at = START_MS + 86_400_000
        bin_alert = Alert(
            tenant,
            "suwa-precision",
            "stock-gateway",
            "screws-m3_weight",
            AlertKind.DROP,
            at,
            0.5,
            "seeded",
            at,
        )
        AlertStore(store).write([bin_alert])
    settings = _api_settings(services, database, tmp_path_factory.mktemp("api"))
    app = create_app(settings)
    keys = app.state.context.keys
    tokens: dict[tuple[str, Role], str] = {}
    for tenant in SCENARIOS:
        for role in Role:
            sites = [first_site(store, tenant)] if role is Role.RESEARCHER else []
            tokens[tenant, role] = keys.create(tenant, role, name=f"{role}", sites=sites)[1]
    with TestClient(app) as client:
        yield ApiEnv(app, client, store, tokens, settings, dict(RANGE), START_MS)
