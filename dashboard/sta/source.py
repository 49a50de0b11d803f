"""The entities a key may see: its tenant's catalogue and registry, a researcher's sites only."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import NotFoundError
from dashboard.context import AppContext
from dashboard.keys import ApiKey, Role
from dashboard.sta import entities as ent
from dashboard.sta.entities import Entity
from dashboard.sta.ids import split_id, split_observation_id
from edge.protocol import SensorKind
from storage.assets import SiteAsset
from storage.catalogue import SeriesKey
from storage.observations import first_times, series_points


@dataclass
class Source:
    """The entities of one request's key, built from the cached catalogue and registry."""

    context: AppContext
    tenant: str
    devices: dict[tuple[str, str], list[SeriesKey]]
    sites: dict[str, SiteAsset | None]

    @classmethod
    def of(cls, context: AppContext, key: ApiKey) -> Source:
        """What `key` may see: a researcher key only the sites shared with it."""
        catalogue = context.reader.catalogue(key.tenant)
        devices = catalogue.devices()
        registry = context.assets.registry(key.tenant).sites
        names = set(catalogue.sites()) | set(registry)
        if key.role is Role.RESEARCHER:
            allowed = set(key.sites)
            devices = {k: v for k, v in devices.items() if k[0] in allowed}
            names &= allowed
        sites = {s: registry.get(s) for s in sorted(names)}
        return cls(context, key.tenant, devices, sites)

    @property
    def series(self) -> list[SeriesKey]:
        """Every series the key may read, in id order."""
        return [k for keys in self.devices.values() for k in keys]

    def kinds(self) -> list[SensorKind]:
        """The sensor kinds with at least one series, in catalogue order."""
        present = {k.kind for k in self.series}
        return [k for k in SensorKind if k in present]

    def _firsts(self) -> dict[tuple[str, str, str, str], int]:
        catalogue = self.context.reader.catalogue(self.tenant)
        found = catalogue.memo.get("sta_first_times")
        if found is None:
            # Once per catalogue refresh: one read gives every series' oldest point.
            found = first_times(self.context.reader.store, self.tenant)
            catalogue.memo["sta_first_times"] = found
        return found  # type: ignore[no-any-return]

    def all(self, entity_set: str) -> list[Entity]:
        """Every entity of a set except Observations (read by the page, never in full)."""
        t = self.tenant
        if entity_set == "Things":
            return [ent.thing(t, s, d, keys) for (s, d), keys in self.devices.items()]
        if entity_set == "Locations":
            return [ent.location(t, s, a) for s, a in self.sites.items()]
        if entity_set == "FeaturesOfInterest":
            return [ent.feature(t, s, a) for s, a in self.sites.items()]
        if entity_set == "Sensors":
            return [ent.sensor(k) for k in self.kinds()]
        if entity_set == "ObservedProperties":
            return [ent.observed_property(k) for k in self.kinds()]
        if entity_set == "Datastreams":
            return [self.datastream(k) for k in self.series]
        if entity_set == "HistoricalLocations":
            # Devices are not known to have moved: their one Location is their site's.
            return []
        raise NotFoundError(f"no entity set {entity_set!r}")

    def datastream(self, key: SeriesKey) -> Entity:
        """The Datastream of one series."""
        catalogue = self.context.reader.catalogue(self.tenant)
        first = self._firsts().get((key.kind.value, key.site, key.device, key.sensor))
        return ent.datastream(self.tenant, key, first, catalogue.last_seen.get(key))

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
            parts = split_id(entity_id, 4, "Datastream")
            keys = self.devices.get((parts[1], parts[2]), [])
            return [self.datastream(k) for k in keys if k.sensor == parts[3]]
        return self.all(entity_set)

    def series_of(self, datastream_id: str) -> SeriesKey:
        """The series a Datastream id names, if the key may read it."""
        entity = self.one("Datastreams", datastream_id)
        assert entity.series is not None
        return entity.series

    def observation(self, entity_id: str) -> Entity:
        """The Observation of one point, or NotFoundError."""
        _, time_ms = split_observation_id(entity_id)
        datastream_id = entity_id.rpartition("~")[0]
        key = self.series_of(datastream_id)
        points = series_points(
            self.context.reader.store,
            tenant=self.tenant,
            key=key,
            start_ms=time_ms,
            end_ms=time_ms + 1,
            limit=1,
        )
        if not points:
            raise NotFoundError(f"no Observation {entity_id!r}")
        return ent.observation(datastream_id, key, points[0][0], points[0][1])

    def _thing(self, site: str, device: str) -> list[Entity]:
        keys = self.devices.get((site, device))
        return [] if keys is None else [ent.thing(self.tenant, site, device, keys)]

    def _site(self, entity_set: str, site: str) -> list[Entity]:
        if site not in self.sites:
            return []
        build = ent.location if entity_set == "Locations" else ent.feature
        return [build(self.tenant, site, self.sites[site])]

    def related(self, entity: Entity, nav: str) -> list[Entity]:
        """The entities `nav` of `entity` leads to (not Observations: see `observed_series`)."""
        # Built directly rather than by searching whole sets: an expansion asks once per entity.
        target = ent.NAVIGATION[entity.set][nav][0]
        if nav in ("Thing", "Things") and entity.device:
            return self._thing(entity.site, entity.device)
        if target in ("Locations", "FeaturesOfInterest") and entity.site:
            return self._site(target, entity.site)
        if nav == "Datastream" and entity.series is not None:
            return [self.datastream(entity.series)]
        if target == "Things" and entity.set == "Locations":
            return [
                ent.thing(self.tenant, s, d, keys)
                for (s, d), keys in self.devices.items()
                if s == entity.site
            ]
        if entity.set == "Things" and nav == "Datastreams":
            return [self.datastream(k) for k in self.devices.get((entity.site, entity.device), [])]
        if nav == "Sensor" and entity.kind is not None:
            return [ent.sensor(entity.kind)]
        if nav == "ObservedProperty" and entity.kind is not None:
            return [ent.observed_property(entity.kind)]
        if nav == "Datastreams" and entity.kind is not None:
            return [self.datastream(k) for k in self.series if k.kind == entity.kind]
        # HistoricalLocations: none are recorded.
        return []

    def observed_series(self, entity: Entity) -> list[tuple[str, SeriesKey]]:
        """(Datastream id, series) whose Observations `entity` leads to."""
        if entity.set == "Datastreams":
            assert entity.series is not None
            return [(entity.id, entity.series)]
        # A FeatureOfInterest is a site: the Observations of every series there.
        return [
            (d.id, d.series) for d in self.all("Datastreams") if d.site == entity.site and d.series
        ]
