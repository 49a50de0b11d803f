"""`shinshu store init` against a real InfluxDB with authentication on: the accounts it makes,
and refusals that never repeat a password."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shinshu.cli import main
from shinshu.localservices import LocalInfluxDB, free_port
from shinshu.store_cli import StoreInitError, init_influx, secret_in


@pytest.fixture
def influx(tmp_path: Path) -> Iterator[LocalInfluxDB]:
    """A fresh InfluxDB 1.x with authentication on and no user yet."""
    server = LocalInfluxDB("influxd", tmp_path, free_port(), auth=True)
    server.start()
    yield server
    server.stop()


def _as(server: LocalInfluxDB, login: tuple[str, str], q: str, db: str = "") -> httpx.Response:
    params = {"q": q, **({"db": db} if db else {})}
    return httpx.post(f"{server.url}/query", data=params, auth=login, timeout=10)


def test_a_fresh_server_gets_its_admin_then_the_database_and_a_scoped_account(
    influx: LocalInfluxDB,
) -> None:
    """No user yet: the admin first, then the database and an account with ALL on it only."""
    admin, platform = ("admin", "a-pw-1234"), ("shinshu", "s-pw-5678")
    with httpx.Client(base_url=influx.url, timeout=10) as http:
        done = init_influx(http, admin=admin, platform=platform, database="db")
    assert any("admin" in line for line in done)
    users = _as(influx, admin, "SHOW USERS").json()["results"][0]["series"][0]["values"]
    assert sorted(users) == [["admin", True], ["shinshu", False]]
    write = httpx.post(
        f"{influx.url}/write", params={"db": "db"}, content=b"m v=1", auth=platform, timeout=10
    )
    assert write.status_code == 204
    assert _as(influx, platform, 'SELECT * FROM "m"', "db").status_code == 200
    # ALL on its own database only: it may not make another.
    other = _as(influx, platform, "CREATE DATABASE other")
    assert other.status_code == 403, other.text
    assert httpx.post(f"{influx.url}/query", data={"q": "SHOW DATABASES"}).status_code == 401


def test_a_second_run_makes_no_admin_and_accepts_the_existing_account(
    influx: LocalInfluxDB,
) -> None:
    """Users exist: no second admin; the platform account keeps working."""
    admin, platform = ("admin", "a-pw-1234"), ("shinshu", "s-pw-5678")
    with httpx.Client(base_url=influx.url, timeout=10) as http:
        init_influx(http, admin=admin, platform=platform, database="db")
        again = init_influx(http, admin=admin, platform=platform, database="db")
    assert not any("created the InfluxDB admin" in line for line in again)
    users = _as(influx, admin, "SHOW USERS").json()["results"][0]["series"][0]["values"]
    assert [u for u in users if u[1]] == [["admin", True]]


def test_a_refusal_names_the_step_without_the_password(influx: LocalInfluxDB) -> None:
    """A wrong admin password on a server with users: the error names the step, not secrets."""
    with httpx.Client(base_url=influx.url, timeout=10) as http:
        init_influx(http, admin=("admin", "a-pw-1234"), platform=("shinshu", "p"), database="db")
        with pytest.raises(StoreInitError) as caught:
            init_influx(
                http, admin=("admin", "wrong-pw-999"), platform=("shinshu", "s-pw"), database="db"
            )
    assert "wrong-pw-999" not in str(caught.value) and "s-pw" not in str(caught.value)


def test_secrets_are_generated_once_into_private_files(tmp_path: Path) -> None:
    """The first call writes a fresh secret (mode 0600); later calls read the same one."""
    path = tmp_path / "creds" / "influxdb.secret"
    first = secret_in(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert secret_in(path) == first


def test_init_needs_the_platform_account_in_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without influx_user and influx_password_file there is nothing to set up: exit 2."""
    monkeypatch.delenv("SHINSHU_INFLUX_USER", raising=False)
    config = tmp_path / "s.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n')
    code = main(["--config", str(config), "store", "init", "--admin-password-file", "x"])
    assert code == 2
