"""Which readings belong to which factory bin: the asset registry, or the sensor naming rule.

A bin registered in the asset registry names its weight and count sensors and its reorder lead
time. A factory whose registry entries are not written yet is still watched: its gateway's
`{bin}_weight` (bin_weight) and `{bin}_count` (item_count) sensors form a bin by name, with
the default lead time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from edge.protocol import SensorKind
from storage.assets import Registry, read_assets
from storage.errors import StoreError
from storage.protocol import ReadingStore

log = logging.getLogger(__name__)

WEIGHT_SUFFIX = "_weight"
COUNT_SUFFIX = "_count"


class Channel(StrEnum):
    """The two readings a bin pairs."""

    WEIGHT = "weight"
    COUNT = "count"


@dataclass(frozen=True, slots=True)
class BinRef:
    """One bin of one tenant: where its two sensors are and how long a reorder takes."""

    tenant: str
    site: str
    device: str
    bin: str
    weight_sensor: str
    count_sensor: str
    lead_time_h: float

    @property
    def key(self) -> tuple[str, str, str, str]:
        """(tenant, site, device, bin): identifies the bin's state."""
        return (self.tenant, self.site, self.device, self.bin)

    def sensor_of(self, channel: Channel) -> str:
        """The sensor id of a channel."""
        return self.weight_sensor if channel is Channel.WEIGHT else self.count_sensor


def by_name(
    tenant: str, site: str, device: str, sensor: str, kind: SensorKind, *, lead_time_h: float
) -> tuple[BinRef, Channel] | None:
    """The bin a sensor belongs to by the naming rule, or None."""
    if kind is SensorKind.BIN_WEIGHT and sensor.endswith(WEIGHT_SUFFIX):
        name, channel = sensor[: -len(WEIGHT_SUFFIX)], Channel.WEIGHT
    elif kind is SensorKind.ITEM_COUNT and sensor.endswith(COUNT_SUFFIX):
        name, channel = sensor[: -len(COUNT_SUFFIX)], Channel.COUNT
    else:
        return None
    if not name:
        return None
    ref = BinRef(tenant, site, device, name, name + WEIGHT_SUFFIX, name + COUNT_SUFFIX, lead_time_h)
    return ref, channel


class BinResolver:
    """Finds the bin of a reading; each tenant's registry is read again every `ttl_s`."""

    def __init__(
        self,
        store: ReadingStore,
        default_lead_time_h: float,
        *,
        ttl_s: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Read registries from `store`; bins not registered get `default_lead_time_h`."""
        self._store = store
        self._default = default_lead_time_h
        self._ttl = ttl_s
        self._monotonic = monotonic
        self._registries: dict[str, tuple[float, Registry]] = {}

    def _registry(self, tenant: str) -> Registry:
        now = self._monotonic()
        cached = self._registries.get(tenant)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        try:
            registry = read_assets(self._store, tenant)
        except StoreError as exc:
            # Without the registry the naming rule still works; try again after the TTL.
            log.warning("could not read the asset registry of a tenant: %s", exc)
            registry = cached[1] if cached is not None else Registry()
        self._registries[tenant] = (now, registry)
        return registry

    def resolve(
        self, tenant: str, site: str, device: str, sensor: str, kind: SensorKind
    ) -> tuple[BinRef, Channel] | None:
        """The bin and channel of a reading, or None if it is not a bin's weight or count."""
        if kind not in (SensorKind.BIN_WEIGHT, SensorKind.ITEM_COUNT):
            return None
        registered = self._registry(tenant).bin_for(site, device, sensor)
        if registered is None:
            return by_name(tenant, site, device, sensor, kind, lead_time_h=self._default)
        channel = Channel.WEIGHT if sensor == registered.weight_sensor else Channel.COUNT
        ref = BinRef(
            tenant,
            site,
            device,
            registered.asset,
            registered.weight_sensor,
            registered.count_sensor,
            registered.lead_time_h,
        )
        return ref, channel
