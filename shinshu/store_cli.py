"""`shinshu store init`: InfluxDB 1.x with authentication on, made ready for the platform.

Creates the first admin account (InfluxDB accepts that one unauthenticated, and only while it
has no user at all), the platform's database and its own account with rights on that database
alone. Passwords are generated into files (mode 0600) the first time and read from them after,
so that running it again changes nothing; they travel only in POST bodies, never in a URL, a
command line or a log line.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ShinshuError
from edge.credentials import read_secret_file, write_secret_file

if TYPE_CHECKING:
    import httpx

    from core.settings import Settings

# InfluxDB 1.x's answer to a query while auth is on and no user exists yet.
NO_ADMIN_YET = "create admin user first"


class StoreInitError(ShinshuError, RuntimeError):
    """InfluxDB refused a step of the set-up; the text says which and why."""


def add_store_command(sub: Any) -> None:
    """Add `store init` to the `shinshu` subcommands."""
    store = sub.add_parser("store", help="set up the InfluxDB store (users, database)")
    actions = store.add_subparsers(dest="store_command", required=True, metavar="ACTION")
    init = actions.add_parser(
        "init",
        help="admin account, database and the platform's account in an InfluxDB with auth on",
    )
    init.add_argument("--admin-user", default="admin", help="InfluxDB admin account (admin)")
    init.add_argument(
        "--admin-password-file",
        type=Path,
        required=True,
        help="its password (mode 0600); generated here if the file does not exist",
    )
    init.add_argument("--wait", type=float, default=30.0, help="seconds to wait for InfluxDB")
    store.set_defaults(handler=_store)


def secret_in(path: Path) -> str:
    """The secret in `path`, generated into it (mode 0600) if the file does not exist yet."""
    from identity.secrets import new_secret

    if not path.exists():
        write_secret_file(path, new_secret())
    return read_secret_file(path)


def _store(settings: Settings, args: argparse.Namespace) -> int:
    """Run `shinshu store init`."""
    if not settings.influx_user or settings.influx_password_file is None:
        print(
            "shinshu store: set influx_user and influx_password_file (the platform's account)",
            file=sys.stderr,
        )
        return 2
    admin = (args.admin_user, secret_in(args.admin_password_file))
    platform = (settings.influx_user, secret_in(settings.influx_password_file.expanduser()))
    # Imported here: building the command line (shared with the Pi agent) needs no HTTP client.
    import httpx

    with httpx.Client(base_url=settings.influx_url, timeout=10.0) as http:
        _wait(http, args.wait)
        steps = init_influx(http, admin=admin, platform=platform, database=settings.influx_db)
    for step in steps:
        print(step, flush=True)
    return 0


def _wait(http: httpx.Client, seconds: float) -> None:
    """Wait until InfluxDB answers /ping."""
    import httpx

    deadline = time.monotonic() + seconds
    while True:
        try:
            if http.get("/ping").status_code == 204:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise StoreInitError(f"InfluxDB at {http.base_url} did not answer in {seconds:.0f} s")
        time.sleep(0.2)


def _query(http: httpx.Client, q: str, auth: tuple[str, str] | None) -> tuple[int, str]:
    """POST one statement; the status and the first error InfluxDB reports ("" if none)."""
    import httpx

    response = http.post("/query", data={"q": q}, auth=auth or httpx.USE_CLIENT_DEFAULT)
    try:
        document = response.json()
    except ValueError:
        return response.status_code, response.text[:200]
    error = str(document.get("error", ""))
    for result in document.get("results", []):
        error = error or str(result.get("error", ""))
    return response.status_code, error


def init_influx(
    http: httpx.Client, *, admin: tuple[str, str], platform: tuple[str, str], database: str
) -> list[str]:
    """Admin account (if none), database, platform account with ALL on `database` only."""
    from storage.influx.influxql import quote_ident, quote_string

    done: list[str] = []
    status, error = _query(http, "SHOW USERS", admin)
    if status == 401 or NO_ADMIN_YET in error:
        # Accepted without authentication only while InfluxDB has no user at all.
        q = (
            f"CREATE USER {quote_ident(admin[0])} WITH PASSWORD {quote_string(admin[1])} "
            "WITH ALL PRIVILEGES"
        )
        status, error = _query(http, q, None)
        if status != 200 or error:
            raise StoreInitError(
                f"InfluxDB refused the admin account {admin[0]} ({status} {error}); if it has "
                "users already, put the existing admin's password in the admin password file"
            )
        done.append(f"created the InfluxDB admin account {admin[0]}")
    user, password = quote_ident(platform[0]), quote_string(platform[1])
    statements = [
        f"CREATE DATABASE {quote_ident(database)}",
        f"CREATE USER {user} WITH PASSWORD {password}",
        # The account existed: it gets the password in its file (so a re-run fixes a drift).
        f"SET PASSWORD FOR {user} = {password}",
        f"GRANT ALL ON {quote_ident(database)} TO {user}",
    ]
    for q in statements:
        status, error = _query(http, q, admin)
        if status != 200 or (error and "already exists" not in error):
            # The statement may hold a password: name the step, not the text.
            raise StoreInitError(f"InfluxDB refused `{q.split(' WITH')[0].split(' =')[0]}`")
    done.append(f"database {database} and account {platform[0]} (ALL on {database} only) ready")
    return done
