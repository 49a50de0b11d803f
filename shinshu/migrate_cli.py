"""`shinshu migrate`: bring every database file of the server (and a spool, if named) to this
release's schema, and say what each was. Services also migrate at start; this runs it first,
while they are stopped, and reports. A file of a newer release is refused and left untouched.
"""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.settings import Settings


def add_migrate_command(sub: Any) -> None:
    """Add `migrate` to the `shinshu` subcommands."""
    migrate = sub.add_parser(
        "migrate", help="bring the server's database files to this release's schema"
    )
    migrate.add_argument("--spool", type=Path, help="also an edge agent's spool file")
    migrate.add_argument(
        "--check", action="store_true", help="only report versions; change nothing"
    )
    migrate.set_defaults(handler=_migrate)


# What a file is called in messages, where it is, and what opens (and so migrates) it.
Opener = tuple[str, Path, Callable[[Path], Any]]


def _openers(settings: Settings, spool: Path | None) -> list[Opener]:
    from core.settings import load_api_settings
    from dashboard.grants import GrantStore
    from dashboard.keys import KeyStore
    from identity.registry import Registry
    from notify.outbox import Outbox
    from storage.sqlite.store import SqliteStore

    api = load_api_settings(settings)
    found: list[Opener] = [
        ("API key store", api.keys_path, KeyStore),
        ("research grant store", api.grants_path, GrantStore),
        ("device registry", settings.registry_path, Registry),
        ("notification store", settings.notify_path, Outbox),
    ]
    if settings.sqlite_path is not None:
        found.append(("embedded reading store", settings.sqlite_path, SqliteStore))
    if spool is not None:
        from edge.spool import Spool

        found.append(("edge spool", spool, Spool))
    return found


def _version(path: Path) -> int:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def _migrate(settings: Settings | None, args: argparse.Namespace) -> int:
    """Migrate (or with --check, report) each file that exists; 1 if any is refused."""
    assert settings is not None
    failed = 0
    for name, path, opener in _openers(settings, args.spool):
        if not path.exists():
            print(f"{name}: {path} absent (created at first start) / 未作成")
            continue
        before = _version(path)
        if args.check:
            print(f"{name}: {path} schema version {before}")
            continue
        try:
            opener(path).close()
        except Exception as exc:  # each file is reported; one refusal does not stop the rest
            print(f"{name}: {exc}")
            failed += 1
            continue
        after = _version(path)
        change = f"{before} → {after}" if after != before else f"{after} (up to date / 最新)"
        print(f"{name}: {path} schema version {change}")
    return 1 if failed else 0
