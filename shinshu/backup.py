"""Backups of a server's state, and their restore onto the same or a new machine.

A backup is a folder (mode 0700; it holds secrets):

- `influxdb/`: InfluxDB's own portable backup of the platform's database (`influxd backup
  -portable`), which flushes what it holds in memory first; or `sqlite/store.sqlite3` for the
  embedded reading store. Readings, assets, records, alerts and rules all live there.
- `sqlite/`: the key store, research grants, device registry and notification store, each
  copied with SQLite's online backup, so a service writing meanwhile never tears a copy.
- `files/models/` (the model registry: finished versions only, never one being written) and
  `files/secrets/` (the service accounts' secrets, the web-push key).
- `config/`: the settings file the backup was made with, for reference.
- `manifest.json`: when it was taken, the schema version of each database, and the SHA-256 of
  every file; restore refuses a backup whose files do not match it.

The manifest's `taken_at_ms` is read just before the reading store is copied: every reading the
store had accepted by then is in the backup.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from core.errors import ShinshuError

MANIFEST: Final = "manifest.json"
FORMAT: Final = 1
INFLUX_DIR: Final = "influxdb"
SQLITE_DIR: Final = "sqlite"
FILES_DIR: Final = "files"
CONFIG_DIR: Final = "config"
# The parts of the data folder copied as files; everything else there is a database (copied
# with SQLite's backup) or belongs to another program (a local broker's or database's files).
TREES: Final = ("models", "secrets")


class BackupError(ShinshuError, RuntimeError):
    """A backup that cannot be made, or restored; the text says which part and why."""


@dataclass(frozen=True, slots=True)
class Database:
    """A SQLite file of the server: its name in messages, where it lives, what opens it."""

    name: str
    path: Path
    opener: Callable[[Path], Any]


def sha256_of(path: Path) -> str:
    """The file's SHA-256, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def files_under(folder: Path) -> Iterator[Path]:
    """Every file below `folder`, in a stable order."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield path


def copy_database(source: Path, target: Path) -> int:
    """A consistent copy of a live SQLite file (online backup); its schema version."""
    from identity.registry import open_private_database

    target.unlink(missing_ok=True)
    src = sqlite3.connect(source, timeout=30.0)
    dst = open_private_database(target)
    try:
        src.backup(dst)
        # One self-contained file: no -wal beside it to forget.
        dst.execute("PRAGMA journal_mode=DELETE")
        return int(dst.execute("PRAGMA user_version").fetchone()[0])
    finally:
        dst.close()
        src.close()


def copy_tree(source: Path, target: Path, *, skip_hidden: bool) -> int:
    """Copy the files below `source` (modes kept); skip hidden folders (a model being written)."""
    count = 0
    for path in files_under(source):
        relative = path.relative_to(source)
        if skip_hidden and any(part.startswith(".") for part in relative.parts):
            continue
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copy2(path, destination)
        count += 1
    return count


def influxd(action: str, *args: str) -> None:
    """Run `influxd backup|restore -portable …`; its own message when it fails."""
    binary = shutil.which("influxd")
    if binary is None:
        raise BackupError(
            "influxd is not installed here (Debian package influxdb): the reading store is "
            "backed up and restored with InfluxDB's own tool / influxd がありません"
        )
    result = subprocess.run(
        [binary, action, "-portable", *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        text = (result.stderr or result.stdout).strip().splitlines()
        raise BackupError(f"influxd {action} failed: {text[-1] if text else result.returncode}")


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Add every file's checksum to `manifest` and write it into the backup."""
    manifest["files"] = {
        str(path.relative_to(folder)): sha256_of(path)
        for path in files_under(folder)
        if path.name != MANIFEST
    }
    target = folder / MANIFEST
    target.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    target.chmod(0o600)


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a backup whose every file matches it; refuses a damaged backup."""
    path = folder / MANIFEST
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{path}: not a backup made by shinshu backup ({exc})") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(
            f"{path}: backup format {manifest.get('format')!r}, this release reads {FORMAT}"
        )
    for name, digest in manifest.get("files", {}).items():
        file = folder / name
        if not file.is_file():
            raise BackupError(f"the backup is incomplete: {name} is missing / ファイル欠落")
        if sha256_of(file) != digest:
            raise BackupError(f"the backup is damaged: {name} does not match its checksum")
    return manifest


def now_ms() -> int:
    """The wall clock in epoch milliseconds."""
    return int(time.time() * 1000)
