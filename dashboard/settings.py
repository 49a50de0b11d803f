"""API settings: derived once from the platform's `Settings` plus `SHINSHU_API_*` variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from core.errors import SettingsError

# DashboardError is importable from here too, where it was first defined.
from dashboard.errors import DashboardError
from shinshu.settings import Settings

API_PREFIX = "SHINSHU_API_"


class ApiSettingsError(DashboardError, SettingsError):
    """An API setting is missing, malformed or out of range."""


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """Everything the web API needs, created once at start and passed to `create_app`."""

    store: Settings
    keys_path: Path
    # Token bucket per API key: sustained requests per second and the burst allowed above it.
    rate_per_s: float = 20.0
    rate_burst: int = 40
    # Token bucket per client address, spent only by wrong keys: after a burst of failures the
    # address gets 429 before its keys are looked up, and earns a new attempt at this rate.
    auth_failure_rate_per_s: float = 1.0
    auth_failure_burst: int = 10
    # An export reads the store one window at a time; this bounds the rows held in memory.
    export_window_rows: int = 20_000
    # The sites/devices catalogue (with last-seen times) is cached this long and then refreshed
    # in the background: its `last()` over all history is the API's most expensive query.
    catalogue_ttl_s: float = 15.0
    # Identical aggregate queries (many people looking at one chart) share an answer this long;
    # 0 turns the cache off.
    aggregate_ttl_s: float = 5.0
    licence: str = "CC-BY-4.0"
    publisher: str = "Shinshu IoT"
    dataset_title: str = "Shinshu IoT sensor readings"

    def __post_init__(self) -> None:
        """Refuse values that cannot work."""
        if self.rate_per_s <= 0 or self.rate_burst < 1:
            raise ApiSettingsError("SHINSHU_API_RATE_PER_S and _RATE_BURST must be positive")
        if self.auth_failure_rate_per_s <= 0 or self.auth_failure_burst < 1:
            raise ApiSettingsError(
                "SHINSHU_API_AUTH_FAILURE_RATE_PER_S and _AUTH_FAILURE_BURST must be positive"
            )
        if self.export_window_rows < 1_000:
            raise ApiSettingsError("SHINSHU_API_EXPORT_WINDOW_ROWS must be at least 1000")
        if self.catalogue_ttl_s < 0 or self.aggregate_ttl_s < 0:
            raise ApiSettingsError("SHINSHU_API_*_TTL_S cannot be negative")
        if not self.licence.strip() or not self.publisher.strip():
            raise ApiSettingsError("SHINSHU_API_LICENCE and SHINSHU_API_PUBLISHER cannot be empty")


_NUMBERS: dict[str, type] = {
    "rate_per_s": float,
    "rate_burst": int,
    "auth_failure_rate_per_s": float,
    "auth_failure_burst": int,
    "export_window_rows": int,
    "catalogue_ttl_s": float,
    "aggregate_ttl_s": float,
}
_TEXTS = ("licence", "publisher", "dataset_title")


def load_api_settings(store: Settings, env: Mapping[str, str] | None = None) -> ApiSettings:
    """Read `SHINSHU_API_*` on top of the platform settings; keys live under the data dir."""
    environment = os.environ if env is None else env
    values: dict[str, object] = {}
    for name, kind in _NUMBERS.items():
        raw = environment.get(API_PREFIX + name.upper())
        if raw is not None:
            try:
                values[name] = kind(raw)
            except ValueError as exc:
                raise ApiSettingsError(f"{API_PREFIX}{name.upper()}: cannot read {raw!r}") from exc
    for name in _TEXTS:
        raw = environment.get(API_PREFIX + name.upper())
        if raw is not None:
            values[name] = raw
    keys = environment.get(API_PREFIX + "KEYS_PATH")
    keys_path = Path(keys).expanduser() if keys else store.data_path / "api_keys.sqlite3"
    return ApiSettings(store=store, keys_path=keys_path, **values)  # type: ignore[arg-type]
