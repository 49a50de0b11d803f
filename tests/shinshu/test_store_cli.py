"""`shinshu store init` against an InfluxDB stand-in: what it sends, and refusals that never
repeat a password."""

from __future__ import annotations

import stat
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from shinshu.cli import main
from shinshu.store_cli import StoreInitError, init_influx, secret_in


def _influx(refuse: str = "", users: bool = False) -> tuple[httpx.Client, list[str]]:
    """A stand-in answering /query as InfluxDB 1.x with auth on; the statements it received."""
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        q = parse_qs(request.content.decode())["q"][0]
        seen.append(q)
        if q == "SHOW USERS" and not users:
            return httpx.Response(
                403, json={"error": "error authorizing query: create admin user first"}
            )
        if refuse and q.startswith(refuse):
            return httpx.Response(403, json={"error": "requires admin privilege"})
        if q.startswith("CREATE USER") and "ALL PRIVILEGES" not in q and users:
            return httpx.Response(200, json={"results": [{"error": "user already exists"}]})
        return httpx.Response(200, json={"results": [{}]})

    return httpx.Client(transport=httpx.MockTransport(answer), base_url="http://influx"), seen


def test_a_fresh_server_gets_its_admin_then_the_database_and_a_scoped_account() -> None:
    """No user yet: the admin first (unauthenticated), then database, account and grant."""
    http, seen = _influx()
    done = init_influx(http, admin=("admin", "a-pw"), platform=("shinshu", "s-pw"), database="db")
    assert seen[1] == "CREATE USER \"admin\" WITH PASSWORD 'a-pw' WITH ALL PRIVILEGES"
    assert seen[2:] == [
        'CREATE DATABASE "db"',
        "CREATE USER \"shinshu\" WITH PASSWORD 's-pw'",
        "SET PASSWORD FOR \"shinshu\" = 's-pw'",
        'GRANT ALL ON "db" TO "shinshu"',
    ]
    assert any("admin" in line for line in done)


def test_a_second_run_makes_no_admin_and_accepts_the_existing_account() -> None:
    """Users exist: no admin is created; an existing platform account is not an error."""
    http, seen = _influx(users=True)
    init_influx(http, admin=("admin", "a-pw"), platform=("shinshu", "s-pw"), database="db")
    assert not any("ALL PRIVILEGES" in q for q in seen)


def test_a_refusal_names_the_step_without_the_password() -> None:
    """InfluxDB refusing the account: the error says which statement, never its password."""
    http, _ = _influx(refuse='CREATE USER "shinshu"')
    with pytest.raises(StoreInitError) as caught:
        init_influx(http, admin=("admin", "a-pw"), platform=("shinshu", "s-pw"), database="db")
    assert "CREATE USER" in str(caught.value)
    assert "s-pw" not in str(caught.value)


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
