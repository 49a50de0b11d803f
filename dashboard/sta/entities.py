"""The SensorThings entities built from the store's catalogue and the asset registry.

A Thing is a device, a Location and a FeatureOfInterest are its site (a GeoJSON point where the
registry knows the site's coordinates), a Datastream is a sensor channel of a device, a Sensor
and an ObservedProperty are a sensor kind of the catalogue, an Observation is one stored point.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from core.time import from_ms
from dashboard.sta.ids import make_id, observation_id
from edge.protocol import SensorKind
from storage.assets import SiteAsset
from storage.catalogue import SeriesKey

OM_MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
GEOJSON = "application/geo+json"
DEFINITION = "https://shinshu.example/def/sensor-kind/"

# Per entity set: its navigation properties, each with the set it leads to and whether it is
# one entity (False) or a collection (True).
NAVIGATION: dict[str, dict[str, tuple[str, bool]]] = {
    "Things": {
        "Locations": ("Locations", True),
        "HistoricalLocations": ("HistoricalLocations", True),
        "Datastreams": ("Datastreams", True),
    },
    "Locations": {
        "Things": ("Things", True),
        "HistoricalLocations": ("HistoricalLocations", True),
    },
    "HistoricalLocations": {"Thing": ("Things", False), "Locations": ("Locations", True)},
    "Datastreams": {
        "Thing": ("Things", False),
        "Sensor": ("Sensors", False),
        "ObservedProperty": ("ObservedProperties", False),
        "Observations": ("Observations", True),
    },
    "Sensors": {"Datastreams": ("Datastreams", True)},
    "ObservedProperties": {"Datastreams": ("Datastreams", True)},
    "Observations": {
        "Datastream": ("Datastreams", False),
        "FeatureOfInterest": ("FeaturesOfInterest", False),
    },
    "FeaturesOfInterest": {"Observations": ("Observations", True)},
}
ENTITY_SETS = tuple(NAVIGATION)


@dataclass(frozen=True)
class Entity:
    """One entity: its set, id, properties (times as datetimes) and what it stands for."""

    set: str
    id: str
    props: dict[str, Any]
    site: str = ""
    device: str = ""
    series: SeriesKey | None = None
    kind: SensorKind | None = None
    time_ms: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def get(self, path: str) -> Any:
        """A property for `$filter` and `$orderby`: `id`, `@iot.id` or a path `a/b`."""
        if path in ("id", "@iot.id"):
            return self.id
        value: Any = self.props
        for part in path.split("/"):
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value


def _geometry(site: SiteAsset | None) -> dict[str, Any] | None:
    if site is None:
        return None
    # GeoJSON orders a position longitude, latitude, then altitude (RFC 7946, section 3.1.1).
    return {"type": "Point", "coordinates": [site.longitude, site.latitude, site.altitude_m]}


def _site_name(site_id: str, site: SiteAsset | None) -> str:
    return site.name_en or site.name_ja if site is not None else site_id


def thing(tenant: str, site: str, device: str, keys: list[SeriesKey]) -> Entity:
    """The Thing of a device."""
    props = {
        "name": device,
        "description": f"device {device} at site {site}",
        "properties": {"site": site, "device": device, "sensors": [k.sensor for k in keys]},
    }
    return Entity("Things", make_id(tenant, site, device), props, site=site, device=device)


def location(tenant: str, site_id: str, site: SiteAsset | None) -> Entity:
    """The Location of a site: a GeoJSON point where the registry has coordinates."""
    props = {
        "name": _site_name(site_id, site),
        "description": f"site {site_id}" + (f" ({site.name_ja})" if site else ""),
        "encodingType": GEOJSON,
        "location": _geometry(site),
        "properties": {"site": site_id, "registered": site is not None}
        | ({"kind": site.kind.value, "municipality": site.municipality} if site else {}),
    }
    return Entity("Locations", make_id(tenant, site_id), props, site=site_id)


def feature(tenant: str, site_id: str, site: SiteAsset | None) -> Entity:
    """The FeatureOfInterest of a site: what its sensors observe."""
    props = {
        "name": _site_name(site_id, site),
        "description": f"site {site_id}",
        "encodingType": GEOJSON,
        "feature": _geometry(site),
        "properties": {"site": site_id},
    }
    return Entity("FeaturesOfInterest", make_id(tenant, site_id), props, site=site_id)


def sensor(kind: SensorKind) -> Entity:
    """The Sensor of a kind of the catalogue."""
    props = {
        "name": kind.value,
        "description": kind.spec.description,
        "encodingType": "text/plain",
        "metadata": f"{DEFINITION}{kind.value}",
    }
    return Entity("Sensors", kind.value, props, kind=kind)


def observed_property(kind: SensorKind) -> Entity:
    """The ObservedProperty of a kind of the catalogue."""
    props = {
        "name": kind.value.replace("_", " "),
        "definition": f"{DEFINITION}{kind.value}",
        "description": kind.spec.description,
    }
    return Entity("ObservedProperties", kind.value, props, kind=kind)


def _interval(first_ms: int | None, last_ms: int | None) -> str | None:
    if first_ms is None or last_ms is None:
        return None
    return f"{iso(from_ms(first_ms))}/{iso(from_ms(last_ms))}"


def datastream(tenant: str, key: SeriesKey, first_ms: int | None, last_ms: int | None) -> Entity:
    """The Datastream of a sensor channel; its unit is the catalogue's unit of its kind."""
    unit = key.kind.unit
    props = {
        "name": f"{key.kind.value} of {key.device} at {key.site} ({key.sensor})",
        "description": key.kind.spec.description,
        "unitOfMeasurement": {"name": unit.name.lower(), "symbol": unit.value, "definition": ""},
        "observationType": OM_MEASUREMENT,
        "phenomenonTime": _interval(first_ms, last_ms),
        "properties": {"site": key.site, "device": key.device, "sensor": key.sensor},
    }
    entity_id = make_id(tenant, key.site, key.device, key.sensor)
    return Entity(
        "Datastreams",
        entity_id,
        props,
        site=key.site,
        device=key.device,
        series=key,
        kind=key.kind,
    )


def observation(datastream_id: str, key: SeriesKey, time_ms: int, value: float) -> Entity:
    """The Observation of one stored point."""
    at = from_ms(time_ms)
    props = {"phenomenonTime": at, "resultTime": at, "result": value}
    return Entity(
        "Observations",
        observation_id(datastream_id, time_ms),
        props,
        site=key.site,
        device=key.device,
        series=key,
        time_ms=time_ms,
    )


def iso(value: dt.datetime) -> str:
    """A time as the API writes it: ISO 8601 in UTC with a `Z`."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def render(entity: Entity, base: str) -> dict[str, Any]:
    """The JSON of an entity: @iot.id, @iot.selfLink, properties and navigation links."""
    quoted = entity.id.replace("'", "''")
    self_link = f"{base}/{entity.set}('{quoted}')"
    out: dict[str, Any] = {"@iot.id": entity.id, "@iot.selfLink": self_link}
    for name, value in entity.props.items():
        out[name] = iso(value) if isinstance(value, dt.datetime) else value
    for nav in NAVIGATION[entity.set]:
        out[f"{nav}@iot.navigationLink"] = f"{self_link}/{nav}"
    return out
