"""The key database and SQLite's side files are readable by their owner only, from the start."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.keys import KeyStore, Role

# SQLite's write-ahead log and its shared-memory index, beside the database.
SIDE_FILES = ("-wal", "-shm")


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The common umask 022, under which new files are readable by everyone."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _modes(path: Path) -> dict[str, int]:
    files = [path, *(path.with_name(path.name + suffix) for suffix in SIDE_FILES)]
    return {file.name: file.stat().st_mode & 0o777 for file in files}


@pytest.mark.usefixtures("open_umask")
def test_new_key_store_files_are_0600_while_they_hold_keys(tmp_path: Path) -> None:
    """Database, -wal and -shm are 0600 after writes, and stay so for a second connection."""
    path = tmp_path / "keys" / "api_keys.sqlite3"
    store = KeyStore(path)
    try:
        store.create("alpha", Role.VIEWER, name="first")
        assert set(_modes(path).values()) == {0o600}
        second = KeyStore(path)
        try:
            second.create("alpha", Role.ADMIN, name="second")
            assert [k.name for k in store.list("alpha")] == ["first", "second"]
        finally:
            second.close()
        assert set(_modes(path).values()) == {0o600}
    finally:
        store.close()
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.usefixtures("open_umask")
def test_files_left_readable_by_an_older_version_are_tightened(tmp_path: Path) -> None:
    """A database and side files created 0644 (by SQLite alone) are made 0600 on opening."""
    path = tmp_path / "api_keys.sqlite3"
    older = sqlite3.connect(path, isolation_level=None)
    try:
        older.execute("PRAGMA journal_mode=WAL")
        older.execute("CREATE TABLE leftover (x)")
        older.execute("INSERT INTO leftover VALUES (1)")
        assert set(_modes(path).values()) == {0o644}
        store = KeyStore(path)
        try:
            assert set(_modes(path).values()) == {0o600}
            store.create("alpha", Role.VIEWER)
            assert set(_modes(path).values()) == {0o600}
        finally:
            store.close()
    finally:
        older.close()
