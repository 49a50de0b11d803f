"""`shinshu backup --out DIR` and `shinshu restore DIR` (the folder's layout: shinshu.backup).

Backup runs while the services run. Restore is for a stopped platform (InfluxDB running, since
it restores over its backup service): it checks the whole backup first — checksums, and that
every database opens at this release's schema — and only then replaces anything. Files it
replaces are kept beside the new ones as `*.before-restore`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.progress import Progress
from edge.credentials import read_secret_file, write_secret_file
from shinshu.backup import (
    CONFIG_DIR,
    FILES_DIR,
    FORMAT,
    INFLUX_DIR,
    SQLITE_DIR,
    TREES,
    BackupError,
    copy_database,
    copy_tree,
    influxd,
    now_ms,
    read_manifest,
    write_manifest,
)
from shinshu.migrate_cli import database_files

if TYPE_CHECKING:
    from core.settings import Settings

ASIDE = ".before-restore"


def add_backup_commands(sub: Any) -> None:
    """Add `backup` and `restore` to the `shinshu` subcommands."""
    backup = sub.add_parser(
        "backup", help="back up readings, keys, devices, records, models and settings"
    )
    backup.add_argument("--out", type=Path, required=True, help="a new (or empty) folder")
    backup.set_defaults(handler=_backup)
    restore = sub.add_parser("restore", help="restore a backup made by shinshu backup")
    restore.add_argument("folder", type=Path, help="the backup folder")
    restore.add_argument(
        "--replace",
        action="store_true",
        help="replace existing state (kept as *.before-restore)",
    )
    restore.add_argument("--admin-user", default="admin", help="InfluxDB admin account (admin)")
    restore.add_argument(
        "--admin-password-file",
        type=Path,
        help="its password: needed when InfluxDB has authentication on",
    )
    restore.add_argument(
        "--accounts-file",
        type=Path,
        help="write the broker's dynamic-security file from the restored device registry",
    )
    restore.set_defaults(handler=_restore)


def _slug(name: str) -> str:
    return name.lower().replace(" ", "-") + ".sqlite3"


def _backup(settings: Settings | None, args: argparse.Namespace) -> int:
    """Make the backup folder; 1 with the reason if any part cannot be backed up."""
    assert settings is not None
    out: Path = args.out
    if out.exists() and any(out.iterdir()):
        print(
            f"shinshu backup: {out} is not empty / 空のフォルダを指定してください", file=sys.stderr
        )
        return 2
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    out.chmod(0o700)
    databases = [entry for entry in database_files(settings) if entry[1].exists()]
    trees = [name for name in TREES if (settings.data_path / name).is_dir()]
    progress = Progress(total=1 + len(databases) + len(trees) + 1, unit="parts")
    manifest: dict[str, Any] = {"format": FORMAT, "databases": {}}
    try:
        manifest["taken_at_ms"] = now_ms()
        if settings.sqlite_path is None:
            influxd(
                "backup",
                "-database",
                settings.influx_db,
                "-host",
                settings.influx_backup_address,
                str(out / INFLUX_DIR),
            )
            manifest["influx_db"] = settings.influx_db
        progress.step(f"reading store / 計測データ: {settings.influx_db}")
        for name, path, _opener in databases:
            version = copy_database(path, out / SQLITE_DIR / _slug(name))
            manifest["databases"][name] = {"file": _slug(name), "schema_version": version}
            progress.step(f"{name}: schema version {version}")
        for tree in trees:
            count = copy_tree(settings.data_path / tree, out / FILES_DIR / tree, skip_hidden=True)
            progress.step(f"{tree}: {count} files")
        if args.config is not None:
            (out / CONFIG_DIR).mkdir(mode=0o700)
            shutil.copy2(args.config, out / CONFIG_DIR / args.config.name)
        manifest["finished_at_ms"] = now_ms()
        write_manifest(out, manifest)
        progress.step("manifest / 目録")
    except (BackupError, OSError) as exc:
        print(f"shinshu backup: {exc}", file=sys.stderr)
        return 1
    progress.finish(f"backup in {out} ({len(manifest['files'])} files) / バックアップ完了")
    print(json.dumps({"taken_at_ms": manifest["taken_at_ms"], "files": len(manifest["files"])}))
    return 0


def _restore(settings: Settings | None, args: argparse.Namespace) -> int:
    """Check the backup whole, then put every part in place; 1 with the reason if refused."""
    assert settings is not None
    try:
        return _restore_checked(settings, args)
    except (BackupError, OSError) as exc:
        print(f"shinshu restore: {exc}", file=sys.stderr)
        return 1


def _restore_checked(settings: Settings, args: argparse.Namespace) -> int:
    folder: Path = args.folder
    manifest = read_manifest(folder)
    openers = {name: (path, opener) for name, path, opener in database_files(settings)}
    staged: list[tuple[Path, Path]] = []
    progress = Progress(total=len(manifest["databases"]) + len(TREES) + 2, unit="parts")
    influx = _InfluxTarget(settings, args) if manifest.get("influx_db") else None
    existing = [
        str(path)
        for name in manifest["databases"]
        if (path := openers[name][0]).exists() and path.stat().st_size > 0
    ] + [str(settings.data_path / t) for t in TREES if _has_files(settings.data_path / t)]
    if influx is not None:
        existing += influx.existing()
    if existing and not args.replace:
        raise BackupError(
            "state exists and would be replaced: " + ", ".join(existing) + "; stop the services "
            "and give --replace to keep it aside as *.before-restore / 既存のデータがあります"
        )
    try:
        # Every database is opened (so migrated, or refused if newer) before anything is replaced.
        for name, entry in manifest["databases"].items():
            if name not in openers:
                raise BackupError(f"the backup holds a {name}, which this server does not use")
            target, opener = openers[name]
            stage = target.with_name(target.name + ".restoring")
            target.parent.mkdir(parents=True, exist_ok=True)
            copy_database(folder / SQLITE_DIR / entry["file"], stage)
            try:
                opener(stage).close()
            except Exception as exc:
                raise BackupError(f"{name}: {exc}") from exc
            staged.append((stage, target))
            progress.step(f"{name}: checked / 確認済み")
        for stage, target in staged:
            _set_aside(target)
            stage.replace(target)
        staged.clear()
    finally:
        for stage, _target in staged:
            _remove_database(stage)
    for tree in TREES:
        source = folder / FILES_DIR / tree
        if source.is_dir():
            target = settings.data_path / tree
            _set_aside(target)
            count = copy_tree(source, target, skip_hidden=False)
            progress.step(f"{tree}: {count} files")
    if influx is not None:
        try:
            influx.restore(folder / INFLUX_DIR, manifest["influx_db"])
        finally:
            influx.close()
        progress.step(f"reading store / 計測データ: {settings.influx_db}")
    if args.accounts_file is not None:
        _write_accounts(settings, args.accounts_file)
        progress.step(f"broker accounts / ブローカーのアカウント: {args.accounts_file}")
    progress.finish(f"restored {folder} (taken at {manifest['taken_at_ms']} ms) / 復元完了")
    return 0


def _has_files(folder: Path) -> bool:
    return folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))


def _with_side_files(path: Path) -> tuple[Path, ...]:
    """A database file and its -wal and -shm beside it."""
    return (path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")))


def _set_aside(target: Path) -> None:
    """Move what is at `target` (and a database's side files) to `*.before-restore`."""
    for path in _with_side_files(target):
        if path.exists():
            aside = path.with_name(path.name + ASIDE)
            if aside.is_dir():
                shutil.rmtree(aside)
            path.replace(aside)


def _remove_database(path: Path) -> None:
    for side in _with_side_files(path):
        side.unlink(missing_ok=True)


def _write_accounts(settings: Settings, target: Path) -> None:
    """The broker's accounts from the restored registry (secrets are hashes; never shown)."""
    from identity.registry import Registry
    from identity.service import broker_file

    registry = Registry(settings.registry_path)
    try:
        document = broker_file(registry)
    finally:
        registry.close()
    write_secret_file(target, json.dumps(document, indent=1))


class _InfluxTarget:
    """The InfluxDB a backup is restored into, spoken to as its admin when auth is on."""

    def __init__(self, settings: Settings, args: argparse.Namespace) -> None:
        import httpx

        from storage.influx.client import InfluxStore

        self._settings = settings
        admin: tuple[str | None, str | None] = (None, None)
        if args.admin_password_file is not None:
            admin = (args.admin_user, read_secret_file(args.admin_password_file))
        elif settings.influx_user:
            raise BackupError(
                "InfluxDB has accounts: give --admin-password-file, so that the database can "
                "be made anew and the platform's account given its rights back"
            )
        http = httpx.Client(base_url=settings.influx_url, timeout=30.0)
        self._store = InfluxStore(http, settings.influx_db, user=admin[0], password=admin[1])
        self._http = http

    def _query(self, query: str) -> dict[str, Any]:
        from storage.errors import StoreError

        try:
            (result,) = self._store.query(query)
        except StoreError as exc:
            raise BackupError(f"InfluxDB refused {query.split(maxsplit=1)[0]}: {exc}") from exc
        return result

    def _has_database(self) -> bool:
        result = self._query("SHOW DATABASES")
        names = [row[0] for s in result.get("series", []) for row in s.get("values", [])]
        return self._settings.influx_db in names

    def existing(self) -> list[str]:
        """The database, if it exists and holds measurements (what a restore would replace)."""
        if not self._has_database() or not self._query("SHOW MEASUREMENTS LIMIT 1").get("series"):
            return []
        return [f"InfluxDB database {self._settings.influx_db}"]

    def restore(self, source: Path, backed_up: str) -> None:
        """Make the database anew from the portable backup, and give the account its rights."""
        from storage.influx.influxql import quote_ident

        database = self._settings.influx_db
        if self._has_database():
            self._query(f"DROP DATABASE {quote_ident(database)}")
        influxd(
            "restore",
            "-db",
            backed_up,
            "-newdb",
            database,
            "-host",
            self._settings.influx_backup_address,
            str(source),
        )
        if self._settings.influx_user:
            user = quote_ident(self._settings.influx_user)
            self._query(f"GRANT ALL ON {quote_ident(database)} TO {user}")

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()
