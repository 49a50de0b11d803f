"""The store of readings, status, assets and alerts: its layout, clients and read models.

`open_store` builds the store that the settings name (`SHINSHU_STORE`); every service opens
its store there. InfluxDB at `SHINSHU_INFLUX_URL` is the default; `sqlite:///path` names a
SQLite file instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.settings import Settings
    from storage.protocol import ReadingStore


def open_store(
    settings: Settings, *, timeout: float = 10.0, connections: int | None = None
) -> ReadingStore:
    """The store of `settings`; `timeout` (seconds) bounds each request or lock wait, and
    `connections` the requests to a server at once (the API's many threads)."""
    # Imported here: a service loads the client of its own store only.
    path = settings.sqlite_path
    if path is not None:
        from storage.sqlite.store import SqliteStore

        return SqliteStore(path, timeout=timeout)
    from storage.influx.client import make_store

    return make_store(settings, timeout, connections=connections)


def describe_store(settings: Settings) -> tuple[str, str]:
    """For people: which store `settings` name, and a shell command that shows a few readings."""
    path = settings.sqlite_path
    if path is not None:
        return (
            f"SQLite    {path}",
            f"sqlite3 -readonly {path} \\\n"
            "        'SELECT s.measurement, s.tags, p.time, p.value FROM points p "
            "JOIN series s ON s.id = p.series LIMIT 5'",
        )
    return (
        f"InfluxDB  {settings.influx_url}   database {settings.influx_db}",
        f"curl -G '{settings.influx_url}/query' \\\n"
        f"        --data-urlencode 'db={settings.influx_db}' \\\n"
        "        --data-urlencode 'q=SELECT * FROM air_temperature LIMIT 5'",
    )
