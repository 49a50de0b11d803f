"""The store of readings, status, assets and alerts: its layout, clients and read models.

`open_store` builds the store that the settings name; every service opens its store here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.settings import Settings
    from storage.influx.client import InfluxStore


def open_store(settings: Settings, *, timeout: float = 10.0) -> InfluxStore:
    """The store of `settings`; `timeout` (seconds) bounds each request to a server."""
    # Imported here: importing a module of this package need not load every client.
    from storage.influx.client import make_store

    return make_store(settings, timeout)
