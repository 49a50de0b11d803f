"""Stable entity ids of the SensorThings API, made of the store's own ids.

A Thing is a device: `tenant~site~device`. A Location and a FeatureOfInterest are a site:
`tenant~site`. A Datastream is a sensor channel of a device: `tenant~site~device~sensor`. An
Observation is one point: its Datastream's id, `~`, and its time in ms since the epoch. A Sensor
and an ObservedProperty are a sensor kind of the catalogue (`air_temperature`). Ids are strings,
so URLs quote them: `Things('alpha~site-1~dev-1')`. A `~` or `%` inside a part is written
percent-encoded (`%7E`, `%25`), so an id always splits back into its parts.
"""

from __future__ import annotations

from core.errors import NotFoundError

SEP = "~"


def _escape(part: str) -> str:
    return part.replace("%", "%25").replace(SEP, "%7E")


def _unescape(part: str) -> str:
    return part.replace("%7E", SEP).replace("%25", "%")


def make_id(*parts: str) -> str:
    """The id of the entity named by `parts`."""
    return SEP.join(_escape(p) for p in parts)


def split_id(entity_id: str, parts: int, what: str) -> list[str]:
    """The `parts` parts of `entity_id`, or NotFoundError: no entity has such an id."""
    found = entity_id.split(SEP)
    if len(found) != parts or not all(found):
        raise NotFoundError(f"no {what} {entity_id!r}")
    return [_unescape(p) for p in found]


def tenant_of(entity_id: str) -> str:
    """The tenant of an entity id of a tenant's data: every such id begins with it."""
    return _unescape(entity_id.split(SEP, 1)[0])


def observation_id(datastream_id: str, time_ms: int) -> str:
    """The id of the point of a Datastream at `time_ms`."""
    return f"{datastream_id}{SEP}{time_ms}"


def split_observation_id(entity_id: str) -> tuple[list[str], int]:
    """(tenant, site, device, sensor) and the time in ms of an Observation id."""
    head, _, stamp = entity_id.rpartition(SEP)
    if not stamp.lstrip("-").isdigit():
        raise NotFoundError(f"no Observation {entity_id!r}")
    return split_id(head, 4, "Observation"), int(stamp)


def unquote_key(raw: str) -> str:
    """The id inside `('…')` of a URL (a doubled quote is a quote), or the bare key."""
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1].replace("''", "'")
    return raw
