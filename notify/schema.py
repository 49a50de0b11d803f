"""The notification database's schema: the outbox and the subscriptions share one file.

One file holds one schema version, so both tables' migrations are listed here, in one list.
"""

from __future__ import annotations

from edge.schema import Schema

_V1 = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    destination TEXT NOT NULL,
    tenant TEXT NOT NULL,
    payload TEXT NOT NULL,
    queued_ms INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ms INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    done_ms INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (destination, id) WHERE state = 'pending';
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS subscriptions (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    spec TEXT NOT NULL,
    secret TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS subscriptions_tenant ON subscriptions (tenant);
"""
SCHEMA = Schema("notification store", (_V1,))
