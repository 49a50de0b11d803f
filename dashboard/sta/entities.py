"""The SensorThings entities built from the store's catalogue and the asset registry.

A Thing is a device, a Location and a FeatureOfInterest are its site (a GeoJSON point where the
registry knows the site's coordinates), a Datastream is a sensor channel of a device, a Sensor
and an ObservedProperty are a sensor kind of the catalogue, an Observation is one stored point.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from core.time import MS_PER_DAY, from_ms
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
_DAY_ZERO = dt.date(1970, 1, 1)
_NO_EXTRA: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Entity:
    """One entity: its set, id, properties (times as datetimes) and what it stands for."""

    # Slots: a page holds thousands of Observations, and each instance dict the garbage
    # collector would have to walk again in every full collection while the page is built.

    set: str
    id: str
    props: dict[str, Any]
    site: str = ""
    device: str = ""
    series: SeriesKey | None = None
    kind: SensorKind | None = None
    time_ms: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

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
    # Positional and with one shared empty `extra`: a page builds thousands of these.
    oid = observation_id(datastream_id, time_ms)
    return Entity("Observations", oid, props, key.site, key.device, key, None, time_ms, _NO_EXTRA)


def iso(value: dt.datetime) -> str:
    """A time as the API writes it: ISO 8601 in UTC with a `Z`."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@lru_cache(maxsize=4_096)
def _day_text(day: int) -> str:
    return (_DAY_ZERO + dt.timedelta(days=day)).isoformat()


def iso_ms(time_ms: int) -> str:
    """`iso(from_ms(time_ms))`, written without a datetime: a page writes thousands of times."""
    day, rest = divmod(time_ms, MS_PER_DAY)
    seconds, millis = divmod(rest, 1000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    clock = f"{_day_text(day)}T{hours:02d}:{minutes:02d}:{seconds:02d}"
    # As datetime.isoformat: a fraction only when there is one, in microseconds.
    return f"{clock}.{millis:03d}000Z" if millis else f"{clock}Z"


def render(entity: Entity, base: str) -> dict[str, Any]:
    """The JSON of an entity: @iot.id, @iot.selfLink, properties and navigation links."""
    quoted = entity.id.replace("'", "''")
    self_link = f"{base}/{entity.set}('{quoted}')"
    props = entity.props
    if (
        entity.set == "Observations"
        and entity.time_ms is not None
        and "phenomenonTime" in props
        and props.get("resultTime") is props["phenomenonTime"]
    ):
        # An Observation as `observation` builds it: one time, written once from its ms.
        return _render_observation(entity, self_link, iso_ms(entity.time_ms))
    out: dict[str, Any] = {"@iot.id": entity.id, "@iot.selfLink": self_link}
    for name, value in props.items():
        out[name] = iso(value) if isinstance(value, dt.datetime) else value
    for nav in NAVIGATION[entity.set]:
        out[f"{nav}@iot.navigationLink"] = f"{self_link}/{nav}"
    return out


def _render_observation(entity: Entity, self_link: str, stamp: str) -> dict[str, Any]:
    """`render` of an Observation whose phenomenonTime and resultTime are `stamp`."""
    return {
        "@iot.id": entity.id,
        "@iot.selfLink": self_link,
        "phenomenonTime": stamp,
        "resultTime": stamp,
        "result": entity.props["result"],
        "Datastream@iot.navigationLink": f"{self_link}/Datastream",
        "FeatureOfInterest@iot.navigationLink": f"{self_link}/FeatureOfInterest",
    }
