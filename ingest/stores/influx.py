"""Moved to `storage.influx.client`; this name stays until every caller imports from there."""

from storage.influx.client import (  # noqa: F401
    DatabaseNotFoundError,
    InfluxStore,
    LineRejected,
    StoreError,
    StoreUnavailableError,
    make_store,
    quote_string,
)
