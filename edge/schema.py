"""Versioned SQLite schemas: every database file says which schema it holds, and is migrated.

A file's version is SQLite's `user_version` in its header. A `Schema` is a list of steps; step
`i` brings a file from version `i` to `i + 1`, in one transaction with the new version, so a
file is never left between two versions. Version 1 of every schema is what the first release
created, written with `IF NOT EXISTS`: a file that release wrote (version 0, its tables already
there) is adopted by step 1 unchanged. A file of a version newer than this release knows is
refused before anything touches it: a release cannot know what a later one changed.

Standard library only: the edge agent's spool uses it on the Pi.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class SchemaVersionError(Exception):
    """A database file of a schema version this release does not know (a newer release's)."""


@dataclass(frozen=True, slots=True)
class Schema:
    """A database's schema: its name for messages, and its migration steps (SQL scripts)."""

    name: str
    steps: tuple[str, ...]

    @property
    def version(self) -> int:
        """The version this release writes."""
        return len(self.steps)


def _statements(script: str) -> Iterator[str]:
    """The statements of a script, split where SQLite itself sees one end."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
    if pending.strip():
        raise ValueError(f"unfinished SQL statement: {pending.strip()[:60]!r}")


def version_of(db: sqlite3.Connection) -> int:
    """The schema version a database file holds (0: unversioned, or new)."""
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def _refuse_newer(found: int, schema: Schema, path: Path | str) -> None:
    if found > schema.version:
        raise SchemaVersionError(
            f"{path}: the {schema.name} has schema version {found}, but this release knows "
            f"versions up to {schema.version}; it was written by a newer release and is left "
            "untouched: run that release, or restore a backup made by this one "
            f"（スキーマ版 {found} はこの版の {schema.version} より新しいため開けません）"
        )


def migrate(db: sqlite3.Connection, schema: Schema, path: Path | str) -> int:
    """Bring the open database (autocommit mode) to `schema`'s version; returns the version
    it had. SchemaVersionError, with both versions named, for a file of a newer release."""
    found = version_of(db)
    _refuse_newer(found, schema, path)
    if found == schema.version:
        return found
    # IMMEDIATE: two processes opening one old file migrate it once, one after the other.
    db.execute("BEGIN IMMEDIATE")
    try:
        current = version_of(db)
        _refuse_newer(current, schema, path)
        for number in range(current, schema.version):
            for statement in _statements(schema.steps[number]):
                db.execute(statement)
        # A PRAGMA cannot take a parameter; the version is this module's own integer.
        db.execute(f"PRAGMA user_version = {int(schema.version)}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return found
