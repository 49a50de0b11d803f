"""The entities a key may see: its tenant's catalogue and registry, a researcher's granted sites.

A source spans every tenant the key reaches (one for a tenant's own keys, several for a
researcher account with grants), each limited to the sites its scope allows. Every entity id
begins with its tenant, so an id is looked up in that tenant's view alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.errors import NotFoundError
from dashboard.context import AppContext
from dashboard.scopes import Scope
from dashboard.sta import entities as ent
from dashboard.sta.entities import Entity
from dashboard.sta.ids import make_id, split_id, split_observation_id, tenant_of
from edge.protocol import SensorKind
from storage.assets import SiteAsset
from storage.catalogue import SeriesKey
from storage.observations import first_times, series_points

# Sets that describe the catalogue rather than any tenant's data.
_SHARED_SETS = frozenset({"Sensors", "ObservedProperties"})


@dataclass(frozen=True)
class TenantView:
    """One tenant's devices (with their series) and sites, as far as the scope reaches."""

    scope: Scope
    devices: dict[tuple[str, str], list[SeriesKey]]
    sites: dict[str, SiteAsset | None]

    @property
    def tenant(self) -> str:
        """The tenant viewed."""
        return self.scope.tenant


@dataclass
class Source:
    """The entities of one request's key, built from the cached catalogues and registries."""

    context: AppContext
    views: dict[str, TenantView]
    # Entities of each tenant this answer rendered: what the download log records.
    rendered: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, context: AppContext, scopes: Sequence[Scope]) -> Source:
        """What `scopes` reach: each tenant's devices and sites, limited to its allowed sites."""
        views = {}
        for scope in scopes:
            catalogue = context.reader.catalogue(scope.tenant)
            devices = {k: v for k, v in catalogue.devices().items() if scope.allows(k[0])}
            registry = context.assets.registry(scope.tenant).sites
            names = {s for s in set(catalogue.sites()) | set(registry) if scope.allows(s)}
            sites = {s: registry.get(s) for s in sorted(names)}
            views[scope.tenant] = TenantView(scope, devices, sites)
        return cls(context, views)

    def saw(self, entity: Entity) -> None:
        """Count `entity` as rendered in this answer (catalogue entities are nobody's data)."""
        if entity.set not in _SHARED_SETS:
            self.rendered[tenant_of(entity.id)] += 1

    def _view(self, tenant: str) -> TenantView | None:
        return self.views.get(tenant)

    @property
    def series(self) -> list[tuple[str, SeriesKey]]:
        """(tenant, series) of every series the key may read, in id order."""
        return [(v.tenant, k) for v in self.views.values() for ks in v.devices.values() for k in ks]

    def kinds(self) -> list[SensorKind]:
        """The sensor kinds with at least one series, in catalogue order."""
        present = {k.kind for _, k in self.series}
        return [k for k in SensorKind if k in present]

    def _firsts(self, tenant: str) -> dict[tuple[str, str, str, str], int]:
        catalogue = self.context.reader.catalogue(tenant)
        found = catalogue.memo.get("sta_first_times")
        if found is None:
            # Once per catalogue refresh: one read gives every series' oldest point.
            found = first_times(self.context.reader.store, tenant)
            catalogue.memo["sta_first_times"] = found
        return found  # type: ignore[no-any-return]

    def all(self, entity_set: str) -> list[Entity]:
        """Every entity of a set except Observations (read by the page, never in full)."""
        views = self.views.values()
        if entity_set == "Things":
            return [
                ent.thing(v.tenant, s, d, keys) for v in views for (s, d), keys in v.devices.items()
            ]
        if entity_set == "Locations":
            return [ent.location(v.tenant, s, a) for v in views for s, a in v.sites.items()]
        if entity_set == "FeaturesOfInterest":
            return [ent.feature(v.tenant, s, a) for v in views for s, a in v.sites.items()]
        if entity_set == "Sensors":
            return [ent.sensor(k) for k in self.kinds()]
        if entity_set == "ObservedProperties":
            return [ent.observed_property(k) for k in self.kinds()]
        if entity_set == "Datastreams":
            return [self.datastream(t, k) for t, k in self.series]
        if entity_set == "HistoricalLocations":
            # Devices are not known to have moved: their one Location is their site's.
            return []
        raise NotFoundError(f"no entity set {entity_set!r}")

    def datastream(self, tenant: str, key: SeriesKey) -> Entity:
        """The Datastream of one series of `tenant`."""
        catalogue = self.context.reader.catalogue(tenant)
        first = self._firsts(tenant).get((key.kind.value, key.site, key.device, key.sensor))
        return ent.datastream(tenant, key, first, catalogue.last_seen.get(key))

    def one(self, entity_set: str, entity_id: str) -> Entity:
        """The entity of a set with `entity_id`, or NotFoundError."""
        if entity_set == "Observations":
            return self.observation(entity_id)
        for entity in self._candidates(entity_set, entity_id):
            if entity.id == entity_id:
                return entity
        raise NotFoundError(f"no {entity_set} {entity_id!r}")

    def _candidates(self, entity_set: str, entity_id: str) -> list[Entity]:
        if entity_set == "Datastreams":
            tenant, site, device, sensor = split_id(entity_id, 4, "Datastream")
            view = self._view(tenant)
            keys = [] if view is None else view.devices.get((site, device), [])
            return [self.datastream(tenant, k) for k in keys if k.sensor == sensor]
        if entity_set == "Things":
            parts = split_id(entity_id, 3, "Thing")
            return self._thing(*parts)
        if entity_set in ("Locations", "FeaturesOfInterest"):
            tenant, site = split_id(entity_id, 2, entity_set)
            return self._site(entity_set, tenant, site)
        return self.all(entity_set)

    def series_of(self, datastream_id: str) -> SeriesKey:
        """The series a Datastream id names, if the key may read it."""
        entity = self.one("Datastreams", datastream_id)
        assert entity.series is not None
        return entity.series

    def observation(self, entity_id: str) -> Entity:
        """The Observation of one point, or NotFoundError."""
        parts, time_ms = split_observation_id(entity_id)
        datastream_id = entity_id.rpartition("~")[0]
        key = self.series_of(datastream_id)
        points = series_points(
            self.context.reader.store,
            tenant=parts[0],
            key=key,
            start_ms=time_ms,
            end_ms=time_ms + 1,
            limit=1,
        )
        if not points:
            raise NotFoundError(f"no Observation {entity_id!r}")
        return ent.observation(datastream_id, key, points[0][0], points[0][1])

    def _thing(self, tenant: str, site: str, device: str) -> list[Entity]:
        view = self._view(tenant)
        keys = None if view is None else view.devices.get((site, device))
        return [] if keys is None else [ent.thing(tenant, site, device, keys)]

    def _site(self, entity_set: str, tenant: str, site: str) -> list[Entity]:
        view = self._view(tenant)
        if view is None or site not in view.sites:
            return []
        build = ent.location if entity_set == "Locations" else ent.feature
        return [build(tenant, site, view.sites[site])]

    def related(self, entity: Entity, nav: str) -> list[Entity]:
        """The entities `nav` of `entity` leads to (not Observations: see `observed_series`)."""
        # Built directly rather than by searching whole sets: an expansion asks once per entity.
        target = ent.NAVIGATION[entity.set][nav][0]
        if nav == "Sensor" and entity.kind is not None:
            return [ent.sensor(entity.kind)]
        if nav == "ObservedProperty" and entity.kind is not None:
            return [ent.observed_property(entity.kind)]
        if nav == "Datastreams" and entity.set in _SHARED_SETS and entity.kind is not None:
            return [self.datastream(t, k) for t, k in self.series if k.kind == entity.kind]
        tenant = tenant_of(entity.id)
        view = self._view(tenant)
        if view is None:
            return []
        if nav in ("Thing", "Things") and entity.device:
            return self._thing(tenant, entity.site, entity.device)
        if target in ("Locations", "FeaturesOfInterest") and entity.site:
            return self._site(target, tenant, entity.site)
        if nav == "Datastream" and entity.series is not None:
            return [self.datastream(tenant, entity.series)]
        if target == "Things" and entity.set == "Locations":
            return [
                ent.thing(tenant, s, d, keys)
                for (s, d), keys in view.devices.items()
                if s == entity.site
            ]
        if entity.set == "Things" and nav == "Datastreams":
            keys = view.devices.get((entity.site, entity.device), [])
            return [self.datastream(tenant, k) for k in keys]
        # HistoricalLocations: none are recorded.
        return []

    def observed_series(self, entity: Entity | None) -> list[tuple[str, SeriesKey]]:
        """(Datastream id, series) whose Observations `entity` (None: every one) leads to."""
        if entity is None:
            return [(d.id, d.series) for d in self.all("Datastreams") if d.series]
        if entity.set == "Datastreams":
            assert entity.series is not None
            return [(entity.id, entity.series)]
        # A FeatureOfInterest is a site: the Observations of every series there.
        tenant = tenant_of(entity.id)
        view = self._view(tenant)
        if view is None:
            return []
        return [
            (make_id(tenant, k.site, k.device, k.sensor), k)
            for (site, _), keys in view.devices.items()
            if site == entity.site
            for k in keys
        ]
