"""The store's errors, the same whichever store (InfluxDB, SQLite) is behind the interface."""

from __future__ import annotations

from core.errors import InvalidRequestError, ShinshuError, UnavailableError


class StoreError(ShinshuError, RuntimeError):
    """The store answered in a way that no retry will change."""


class StoreUnavailableError(StoreError, UnavailableError):
    """The store cannot take writes right now (network, 429, 5xx, auth): retry later."""


class DatabaseNotFoundError(StoreError):
    """A query of a database not created yet: readers take it as an empty answer."""


class QueryError(InvalidRequestError):
    """A request the store cannot answer as asked (bad range, too many buckets, bad cursor)."""


class StoreDownError(UnavailableError):
    """The store did not answer a read; the client may retry later."""
