"""How the simulators enter their sites and work records: through the asset registry's service,
as a person or an import would, checked the same way (there is no side door)."""

from __future__ import annotations

from collections.abc import Sequence

from simulators.assets import SIMULATOR
from storage.assets import Asset, write_assets
from storage.protocol import ReadingStore
from storage.records import WorkRecord, write_records


def save_assets(
    store: ReadingStore, tenant: str, assets: Sequence[Asset], *, by: str = SIMULATOR
) -> None:
    """Register (or update) the simulated sites, fields, stands and bins."""
    write_assets(store, tenant, assets, by=by)


def add_records(store: ReadingStore, tenant: str, records: Sequence[WorkRecord]) -> None:
    """Store simulated work records."""
    write_records(store, tenant, records)
