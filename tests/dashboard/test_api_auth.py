"""API keys: header only, hashed at rest, revocable, rate limited; the CLI that manages them."""

from __future__ import annotations

import dataclasses
import logging
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

if TYPE_CHECKING:
    from tests.dashboard.conftest import ApiEnv, ApiSettingsFactory

from dashboard.app import create_app
from dashboard.keys import Role
from shinshu.localservices import free_port

pytestmark = pytest.mark.integration


def test_every_route_answers_401_without_a_valid_key(api_env: ApiEnv) -> None:
    """No key, a malformed key, a wrong secret: 401 on every route of the table."""
    token = api_env.tokens["alpha", Role.ADMIN]
    wrong_secret = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for route in api_env.routes():
        path = api_env.fill_path(route, "alpha")
        for headers in ({}, {"X-API-Key": "nonsense"}, {"X-API-Key": wrong_secret}):
            status, body = api_env.call(route, path, headers)
            assert status == 401, (route.path, headers, body)


def test_key_in_the_url_is_not_accepted(api_env: ApiEnv) -> None:
    """A key pasted into the query string does not authenticate."""
    token = api_env.tokens["alpha", Role.VIEWER]
    for name in ("api_key", "X-API-Key", "key"):
        response = api_env.client.get("/api/v1/tenants/alpha/sites", params={name: token})
        assert response.status_code == 401


def test_keys_are_stored_hashed(api_env: ApiEnv) -> None:
    """The key database holds no token and no secret, only their hashes."""
    path = api_env.settings.keys_path
    raw = path.read_bytes()
    for token in api_env.tokens.values():
        secret = token.split("_", 2)[2]
        assert secret.encode() not in raw
    with sqlite3.connect(path) as db:
        hashes = [row[0] for row in db.execute("SELECT secret_sha256 FROM api_keys")]
    assert hashes and all(len(h) == 64 for h in hashes)


def test_revoked_key_is_refused_at_once(api_env: ApiEnv) -> None:
    """A key revoked through the API no longer works for the next request."""
    admin = api_env.headers("alpha", Role.ADMIN)
    created = api_env.client.post(
        "/api/v1/tenants/alpha/keys", json={"role": "viewer", "name": "temp"}, headers=admin
    ).json()
    temp = {"X-API-Key": created["token"]}
    assert api_env.client.get("/api/v1/tenants/alpha/sites", headers=temp).status_code == 200
    revoked = api_env.client.delete(f"/api/v1/tenants/alpha/keys/{created['id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is not None
    assert api_env.client.get("/api/v1/tenants/alpha/sites", headers=temp).status_code == 401
    listed = api_env.client.get("/api/v1/tenants/alpha/keys", headers=admin).json()
    assert all("token" not in k for k in listed)
    assert {k["tenant"] for k in listed} == {"alpha"}


def test_rate_limit_answers_429_with_retry_after(
    make_api_settings: ApiSettingsFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Past its burst a key gets 429 with Retry-After; the access log never holds the token."""
    settings = make_api_settings(
        f"rl_{uuid.uuid4().hex[:8]}",
        tmp_path,
        SHINSHU_API_RATE_PER_S="0.5",
        SHINSHU_API_RATE_BURST="3",
    )
    app = create_app(settings)
    _, token = app.state.context.keys.create("gamma", Role.VIEWER)
    caplog.set_level(logging.INFO, logger="dashboard.access")
    with TestClient(app) as client:
        statuses = [
            client.get("/api/v1/tenants/gamma/sites", headers={"X-API-Key": token})
            for _ in range(5)
        ]
        assert [r.status_code for r in statuses] == [200, 200, 200, 429, 429]
        assert int(statuses[-1].headers["Retry-After"]) >= 1
        metrics = client.get("/metrics").text
    assert "shinshu_api_rate_limited_total 2.0" in metrics
    assert 'route="/api/v1/tenants/{tenant}/sites",status="429"' in metrics
    logged = "\n".join(r.getMessage() for r in caplog.records)
    sites = [r.fields for r in caplog.records if r.fields["path"].endswith("/sites")]  # type: ignore[attr-defined]
    assert [f["status"] for f in sites] == [200, 200, 200, 429, 429]
    assert "GET /api/v1/tenants/gamma/sites 429" in logged
    everything = logged + "\n".join(str(r.fields) for r in caplog.records)  # type: ignore[attr-defined]
    assert token not in everything and token.split("_", 2)[2] not in everything


def test_health_and_readiness(make_api_settings: ApiSettingsFactory, tmp_path: Path) -> None:
    """/healthz answers always; /readyz only while both the store and the broker answer."""
    settings = make_api_settings("anything", tmp_path / "a")
    good = create_app(settings)
    closed = f"127.0.0.1:{free_port()}"
    no_store = dataclasses.replace(settings.store, influx_url=f"http://{closed}")
    no_broker = dataclasses.replace(settings.store, mqtt_url=f"mqtt://{closed}")
    apps = [
        create_app(dataclasses.replace(settings, store=store, keys_path=tmp_path / f"{i}.db"))
        for i, store in enumerate((no_store, no_broker))
    ]
    with TestClient(good) as ok, TestClient(apps[0]) as down, TestClient(apps[1]) as lonely:
        assert ok.get("/healthz").json() == {"status": "ok"}
        assert ok.get("/readyz").status_code == 200
        assert down.get("/healthz").status_code == 200
        assert down.get("/readyz").status_code == 503
        assert "store" in down.get("/readyz").json()["detail"]
        assert lonely.get("/healthz").status_code == 200
        answer = lonely.get("/readyz")
        assert answer.status_code == 503 and "MQTT broker" in answer.json()["detail"]


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHINSHU_")}
    env["SHINSHU_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "dashboard.cli", "keys", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_keys_cli_create_list_revoke(tmp_path: Path) -> None:
    """`keys create` prints the token once, `list` never shows it, `revoke` disables it."""
    created = _cli(tmp_path, "create", "--tenant", "delta", "--role", "operator")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    key_id = token.split("_")[1]
    listed = _cli(tmp_path, "list")
    assert key_id in listed.stdout and token not in listed.stdout
    assert "active" in listed.stdout
    assert _cli(tmp_path, "revoke", key_id).returncode == 0
    assert "revoked" in _cli(tmp_path, "list", "--tenant", "delta").stdout
    # A researcher key without sites is an account's: it reads only what tenants grant it.
    account = _cli(tmp_path, "create", "--tenant", "lab-delta", "--role", "researcher")
    assert account.returncode == 0, account.stderr
    assert "researcher account lab-delta" in account.stdout
    refused = _cli(tmp_path, "create", "--tenant", "delta", "--role", "viewer", "--site", "s")
    assert refused.returncode == 1 and "only researcher keys" in refused.stderr
    assert (tmp_path / "api_keys.sqlite3").stat().st_mode & 0o077 == 0
