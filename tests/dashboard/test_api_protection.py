"""What every answer says to caches and browsers, and how the API treats a client guessing keys."""

from __future__ import annotations

import dataclasses
import re
import secrets
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi.testclient import TestClient

if TYPE_CHECKING:
    from tests.dashboard.conftest import ApiEnv, ApiSettingsFactory

from dashboard.app import create_app
from dashboard.keys import Role
from dashboard.routes.ui import asset_version
from shinshu.localservices import free_port

pytestmark = pytest.mark.integration

YEAR = "public, max-age=31536000, immutable"


def _assert_private(response: httpx.Response) -> None:
    """The answer may not be stored by any cache, nor its type guessed by a browser."""
    what = (response.request.url.path, response.status_code)
    assert response.headers.get_list("cache-control") == ["no-store"], what
    assert response.headers.get_list("x-content-type-options") == ["nosniff"], what


def _wrong_key() -> str:
    """A token shaped like ours that no store holds."""
    return f"shk_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


def test_api_answers_and_errors_are_never_stored_or_sniffed(api_env: ApiEnv) -> None:
    """200, 401, 403, 404 and 422 JSON answers, /metrics and /healthz: no-store and nosniff."""
    client = api_env.client
    viewer = api_env.headers("alpha", Role.VIEWER)
    site, device, sensor = api_env.first_series("alpha")
    readings = f"/api/v1/tenants/alpha/sites/{site}/devices/{device}/sensors/{sensor}/readings"
    answers = {
        200: client.get("/api/v1/tenants/alpha/sites", headers=viewer),
        401: client.get("/api/v1/tenants/alpha/sites"),
        403: client.get("/api/v1/tenants/beta/sites", headers=viewer),
        404: client.get("/api/v1/tenants/alpha/sites/nowhere/devices/none", headers=viewer),
        422: client.get(readings, params={"limit": "many"}, headers=viewer),
    }
    for status, response in answers.items():
        assert response.status_code == status, (status, response.text)
        assert response.headers["content-type"].startswith("application/json")
        _assert_private(response)
    for path in ("/metrics", "/healthz", "/openapi.json"):
        response = client.get(path)
        assert response.status_code == 200, path
        _assert_private(response)


def test_ui_files_keep_their_caching_and_are_never_sniffed(api_env: ApiEnv) -> None:
    """The shell and static files keep their own Cache-Control and carry one nosniff."""
    version = asset_version()
    for path, cache in (
        ("/", "no-cache"),
        (f"/static/{version}/app.css", YEAR),
        (f"/static/{version}/js/app.js", YEAR),
        ("/static/000000000000/js/app.js", "no-cache"),
    ):
        response = api_env.client.get(path)
        assert response.status_code == 200, path
        assert response.headers.get_list("cache-control") == [cache], path
        assert response.headers.get_list("x-content-type-options") == ["nosniff"], path
    missing = api_env.client.get(f"/static/{version}/nope.js")
    assert missing.status_code == 404
    _assert_private(missing)


def test_store_down_answer_is_never_stored(
    make_api_settings: ApiSettingsFactory, tmp_path: Path
) -> None:
    """A 503 carries no-store and nosniff too."""
    settings = make_api_settings("anything", tmp_path)
    closed = dataclasses.replace(settings.store, influx_url=f"http://127.0.0.1:{free_port()}")
    with TestClient(create_app(dataclasses.replace(settings, store=closed))) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    _assert_private(response)


def _metric(text: str, name: str) -> float:
    """The value of one sample in a Prometheus text exposition."""
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert found is not None, name
    return float(found.group(1))


def test_wrong_keys_in_a_row_are_throttled_by_address_and_counted(
    make_api_settings: ApiSettingsFactory, tmp_path: Path
) -> None:
    """1,000 wrong keys: 10 looked up (401), 990 refused (429); another address is still served."""
    settings = make_api_settings(
        f"af_{uuid.uuid4().hex[:8]}",
        tmp_path,
        SHINSHU_API_AUTH_FAILURE_BURST="10",
        # One attempt back every 1,000 s: none comes back while the test runs.
        SHINSHU_API_AUTH_FAILURE_RATE_PER_S="0.001",
    )
    app = create_app(settings)
    _, token = app.state.context.keys.create("gamma", Role.VIEWER)
    valid = {"X-API-Key": token}
    sites = "/api/v1/tenants/gamma/sites"
    with (
        TestClient(app, client=("203.0.113.7", 40000)) as guesser,
        TestClient(app, client=("198.51.100.9", 40001)) as other,
    ):
        answers = [guesser.get(sites, headers={"X-API-Key": _wrong_key()}) for _ in range(1000)]
        statuses = [r.status_code for r in answers]
        assert statuses[:10] == [401] * 10
        assert statuses[10:] == [429] * 990
        refused = answers[-1]
        assert int(refused.headers["Retry-After"]) >= 1
        assert "wrong API keys" in refused.json()["detail"]
        _assert_private(refused)
        assert guesser.get(sites, headers=valid).status_code == 429
        assert other.get(sites, headers=valid).status_code == 200
        metrics = other.get("/metrics").text
    assert _metric(metrics, 'shinshu_api_auth_failures_total{reason="rejected"}') == 10
    assert _metric(metrics, "shinshu_api_auth_throttled_total") == 991
    assert _metric(metrics, "shinshu_api_rate_limited_total") == 0


def test_valid_and_missing_keys_do_not_spend_the_failure_budget(
    make_api_settings: ApiSettingsFactory, tmp_path: Path
) -> None:
    """Many good requests and requests without a key, then still 10 wrong keys before 429."""
    settings = make_api_settings(
        f"af_{uuid.uuid4().hex[:8]}",
        tmp_path,
        SHINSHU_API_AUTH_FAILURE_BURST="10",
        SHINSHU_API_AUTH_FAILURE_RATE_PER_S="0.001",
    )
    app = create_app(settings)
    _, token = app.state.context.keys.create("gamma", Role.VIEWER)
    sites = "/api/v1/tenants/gamma/sites"
    with TestClient(app) as client:
        assert {client.get(sites, headers={"X-API-Key": token}).status_code for _ in range(30)} == {
            200
        }
        assert {client.get(sites).status_code for _ in range(30)} == {401}
        wrong = [
            client.get(sites, headers={"X-API-Key": _wrong_key()}).status_code for _ in range(11)
        ]
        assert wrong == [401] * 10 + [429]
        metrics = client.get("/metrics").text
    assert _metric(metrics, 'shinshu_api_auth_failures_total{reason="missing"}') == 30
    assert _metric(metrics, 'shinshu_api_auth_failures_total{reason="rejected"}') == 10
    assert _metric(metrics, "shinshu_api_auth_throttled_total") == 1
