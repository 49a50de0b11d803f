"""`shinshu backup` and `restore` with the embedded reading store: checks before replacing."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from support import run_shinshu

from dashboard.keys import KeyStore, Role
from shinshu.backup import MANIFEST, sha256_of


def run(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`shinshu` on the data folder `data` with its reading store in SQLite."""
    return run_shinshu(data, *args, store=f"sqlite://{data}/store.sqlite3")


@pytest.fixture
def backup(tmp_path: Path) -> tuple[Path, str]:
    """A backup of a data folder with one API key and one secret; the key's token."""
    data = tmp_path / "old"
    keys = KeyStore(data / "api_keys.sqlite3")
    _key, token = keys.create("t1", Role.ADMIN)
    keys.close()
    (data / "secrets").mkdir(mode=0o700)
    (data / "secrets" / "svc.secret").write_text("s3cret")
    (data / "secrets" / "svc.secret").chmod(0o600)
    made = run(data, "backup", "--out", str(tmp_path / "b"))
    assert made.returncode == 0, made.stderr
    return tmp_path / "b", token


def test_a_restore_gives_back_the_keys_and_secrets(
    backup: tuple[Path, str], tmp_path: Path
) -> None:
    """Restored into an empty folder, the key signs in and the secret is private."""
    folder, token = backup
    done = run(tmp_path / "new", "restore", str(folder))
    assert done.returncode == 0, done.stderr
    keys = KeyStore(tmp_path / "new" / "api_keys.sqlite3")
    assert keys.authenticate(token) is not None
    keys.close()
    secret = tmp_path / "new" / "secrets" / "svc.secret"
    assert secret.read_text() == "s3cret" and secret.stat().st_mode & 0o077 == 0


def test_a_backup_goes_only_into_an_empty_folder(backup: tuple[Path, str], tmp_path: Path) -> None:
    """A second backup into the same folder is refused, the first left as it was."""
    folder, _ = backup
    before = (folder / MANIFEST).read_text()
    again = run(tmp_path / "old", "backup", "--out", str(folder))
    assert again.returncode == 2 and "not empty" in again.stderr
    assert (folder / MANIFEST).read_text() == before


def test_a_damaged_backup_is_refused_before_anything_changes(
    backup: tuple[Path, str], tmp_path: Path
) -> None:
    """One changed byte: refused, naming the file; nothing written to the target."""
    folder, _ = backup
    damaged = folder / "files" / "secrets" / "svc.secret"
    damaged.write_text("s3creT")
    done = run(tmp_path / "new", "restore", str(folder))
    assert done.returncode == 1
    assert "damaged" in done.stderr and "svc.secret" in done.stderr
    assert not (tmp_path / "new" / "api_keys.sqlite3").exists()


def test_a_database_of_a_newer_schema_is_refused_naming_the_versions(
    backup: tuple[Path, str], tmp_path: Path
) -> None:
    """A key store from a future release: refused with both versions; nothing replaced."""
    folder, _ = backup
    manifest = json.loads((folder / MANIFEST).read_text())
    name = manifest["databases"]["API key store"]["file"]
    copy = folder / "sqlite" / name
    db = sqlite3.connect(copy)
    db.execute("PRAGMA user_version = 99")
    db.close()
    manifest["files"][f"sqlite/{name}"] = sha256_of(copy)
    (folder / MANIFEST).write_text(json.dumps(manifest))
    done = run(tmp_path / "new", "restore", str(folder))
    assert done.returncode == 1
    assert "schema version 99" in done.stderr and "up to" in done.stderr
    assert not (tmp_path / "new" / "api_keys.sqlite3").exists()


def test_existing_state_is_replaced_only_when_asked_and_kept_aside(
    backup: tuple[Path, str], tmp_path: Path
) -> None:
    """Over a folder with its own key: refused; with --replace the old file is kept aside."""
    folder, token = backup
    new = tmp_path / "new"
    keys = KeyStore(new / "api_keys.sqlite3")
    _key, own = keys.create("t2", Role.ADMIN)
    keys.close()
    refused = run(new, "restore", str(folder))
    assert refused.returncode == 1 and "--replace" in refused.stderr
    done = run(new, "restore", "--replace", str(folder))
    assert done.returncode == 0, done.stderr
    restored = KeyStore(new / "api_keys.sqlite3")
    aside = KeyStore(new / "api_keys.sqlite3.before-restore")
    try:
        assert restored.authenticate(token) is not None and restored.authenticate(own) is None
        assert aside.authenticate(own) is not None
    finally:
        restored.close()
        aside.close()
