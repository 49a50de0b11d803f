"""Landslide levels for people: a tenant's own sites, and the sites shared across tenants.

The shared list is what the prefecture and the public page see: for each site whose tenant opted
it in to disaster sharing (`settings.write_sharing`), its level, the step it is for, and where
it is (the registry's coordinates and municipality, else only the site and tenant ids). Nothing
else of the tenant's: no readings (not even SWI or R60), devices, stock or records.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from models.landslide.levels import Level
from models.landslide.service import LandslideWatch, SiteLevel
from models.landslide.settings import read_sharing
from storage.alerts import AlertStore
from storage.assets import read_assets
from storage.protocol import ReadingStore


@dataclass(frozen=True, slots=True)
class SharedSite:
    """One opted-in site as the prefecture and the public see it; `level` None: no rain gauge
    reported in the window, so there is no level to show."""

    tenant: str
    site: str
    municipality: str
    latitude: float | None
    longitude: float | None
    level: Level | None
    at_ms: int | None


class LandslideBoard:
    """Current levels for the API; the shared list is kept for `ttl_s`, as it is public."""

    def __init__(
        self, store: ReadingStore, *, ttl_s: float = 60.0, clock: Callable[[], float] = time.time
    ) -> None:
        """Compute levels from `store`; keep the shared list `ttl_s` seconds."""
        self._store = store
        self._watch = LandslideWatch(store, AlertStore(store), clock=clock)
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._shared: tuple[float, list[SharedSite]] | None = None

    def levels(self, tenant: str) -> list[SiteLevel]:
        """The current level of each of the tenant's sites with a rain gauge."""
        return self._watch.levels(tenant)

    def invalidate(self) -> None:
        """Forget the kept shared list (a site's sharing changed)."""
        with self._lock:
            self._shared = None

    def shared(self) -> list[SharedSite]:
        """Every opted-in site of every tenant, by tenant and site."""
        with self._lock:
            kept = self._shared
            if kept is not None and self._clock() - kept[0] < self._ttl_s:
                return kept[1]
            # Computed under the lock: many public requests at once cost one computation.
            fresh = self._compute()
            self._shared = (self._clock(), fresh)
            return fresh

    def _compute(self) -> list[SharedSite]:
        """The shared list from the store."""
        opted = read_sharing(self._store)
        out = []
        for tenant in sorted({t for t, _ in opted}):
            sites = sorted(s for t, s in opted if t == tenant)
            current = {x.site: x for x in self._watch.levels(tenant) if x.site in sites}
            registered = read_assets(self._store, tenant, sites).sites
            for site in sites:
                level = current.get(site)
                where = registered.get(site)
                out.append(
                    SharedSite(
                        tenant=tenant,
                        site=site,
                        municipality=where.municipality if where else "",
                        latitude=where.latitude if where else None,
                        longitude=where.longitude if where else None,
                        level=level.level if level else None,
                        at_ms=level.at_ms if level else None,
                    )
                )
        return out
