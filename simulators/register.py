"""How the simulators enter their sites and work records: through the asset registry's service,
as a person or an import would, checked the same way (there is no side door)."""

from __future__ import annotations

from collections.abc import Sequence

from models.sites.service import RegistryService
from simulators.assets import SIMULATOR
from storage.assets import Asset
from storage.protocol import ReadingStore
from storage.records import WorkRecord


def save_assets(
    store: ReadingStore, tenant: str, assets: Sequence[Asset], *, by: str = SIMULATOR
) -> None:
    """Register (or update) the simulated sites, fields, stands and bins; RegistryInvalid if
    the registry would refuse them."""
    RegistryService(store).save(tenant, assets, by=by)


def add_records(
    store: ReadingStore, tenant: str, records: Sequence[WorkRecord], *, by: str = SIMULATOR
) -> None:
    """Store simulated work records, checked as the registry checks anyone's."""
    RegistryService(store).add_records(tenant, records, by=by)
