"""Moved to `storage.influx.client`; this name stays until every caller imports from there.

`make_store` builds the store the settings name (`storage.open_store`), InfluxDB or SQLite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from storage import open_store
from storage.influx.client import (  # noqa: F401
    DatabaseNotFoundError,
    InfluxStore,
    LineRejected,
    StoreError,
    StoreUnavailableError,
    quote_string,
)

if TYPE_CHECKING:
    from core.settings import Settings
    from storage.protocol import ReadingStore


def make_store(settings: Settings, timeout: float = 10.0) -> ReadingStore:
    """The store of `settings` (see `storage.open_store`)."""
    return open_store(settings, timeout=timeout)
