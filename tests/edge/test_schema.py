"""Schema versions of SQLite files: migrated once, in order, atomically; newer ones refused."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from edge.schema import Schema, SchemaVersionError, migrate, version_of

V1 = """
-- the first release's table
CREATE TABLE IF NOT EXISTS things (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
"""
V2 = """
ALTER TABLE things ADD COLUMN colour TEXT NOT NULL DEFAULT 'green';
CREATE INDEX things_by_colour ON things (colour);
"""


def _open(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None, check_same_thread=False)


def test_a_new_file_gets_every_step_and_the_latest_version(tmp_path: Path) -> None:
    """From nothing to version 2: both steps ran, the version says so."""
    db = _open(tmp_path / "x.sqlite3")
    assert migrate(db, Schema("thing store", (V1, V2)), tmp_path) == 0
    assert version_of(db) == 2
    db.execute("INSERT INTO things (name) VALUES ('a')")
    assert db.execute("SELECT colour FROM things").fetchall() == [("green",)]


def test_an_unversioned_file_of_the_first_release_is_adopted_and_migrated(tmp_path: Path) -> None:
    """A file the first release wrote (version 0, its rows there) keeps them through v1 and v2."""
    path = tmp_path / "old.sqlite3"
    old = _open(path)
    old.executescript(V1)
    old.execute("INSERT INTO things (name) VALUES ('kept')")
    old.close()
    db = _open(path)
    assert migrate(db, Schema("thing store", (V1, V2)), path) == 0
    assert db.execute("SELECT name, colour FROM things").fetchall() == [("kept", "green")]
    # Opening again changes nothing.
    assert migrate(db, Schema("thing store", (V1, V2)), path) == 2


def test_a_newer_file_is_refused_untouched_with_both_versions_named(tmp_path: Path) -> None:
    """Version 3 against a release of version 2: refused, the file not written to."""
    path = tmp_path / "new.sqlite3"
    db = _open(path)
    migrate(db, Schema("thing store", (V1, V2)), path)
    db.execute("PRAGMA user_version = 3")
    before = path.read_bytes()
    with pytest.raises(SchemaVersionError) as raised:
        migrate(db, Schema("thing store", (V1, V2)), path)
    message = str(raised.value)
    assert "thing store" in message and "version 3" in message and "up to 2" in message
    assert str(path) in message
    assert path.read_bytes() == before


def test_a_failing_step_leaves_the_file_at_its_old_version(tmp_path: Path) -> None:
    """A step that fails half-way rolls back all of it, and the version stays."""
    path = tmp_path / "x.sqlite3"
    db = _open(path)
    migrate(db, Schema("thing store", (V1,)), path)
    broken = "ALTER TABLE things ADD COLUMN size INTEGER;\nALTER TABLE nothing ADD COLUMN x;\n"
    with pytest.raises(sqlite3.OperationalError):
        migrate(db, Schema("thing store", (V1, broken)), path)
    assert version_of(db) == 1
    columns = [row[1] for row in db.execute("PRAGMA table_info(things)")]
    assert columns == ["id", "name"]


def test_two_processes_opening_one_old_file_migrate_it_once(tmp_path: Path) -> None:
    """Concurrent openers: one migrates, the other finds it done (no duplicate column error)."""
    path = tmp_path / "x.sqlite3"
    first = _open(path)
    migrate(first, Schema("thing store", (V1,)), path)
    first.close()
    errors: list[BaseException] = []

    def open_and_migrate() -> None:
        db = sqlite3.connect(path, isolation_level=None, timeout=10.0)
        try:
            migrate(db, Schema("thing store", (V1, V2)), path)
        except BaseException as exc:
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=open_and_migrate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert version_of(_open(path)) == 2


def test_an_unfinished_statement_is_a_programming_error(tmp_path: Path) -> None:
    """A step whose last statement lacks its end is refused before anything runs."""
    db = _open(tmp_path / "x.sqlite3")
    with pytest.raises(ValueError, match="unfinished"):
        migrate(db, Schema("thing store", ("CREATE TABLE t (x",)), tmp_path)
    assert version_of(db) == 0
