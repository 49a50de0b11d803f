"""A tenant's catalogue: its series, when each last reported, and each device's status."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.errors import NotFoundError
from edge.protocol import SensorKind


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """One stored series of a tenant: a sensor channel of a device at a site."""

    kind: SensorKind
    site: str
    device: str
    sensor: str


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """The latest status message of a device, as ingest stored it."""

    online: bool
    at_ms: int
    spool_readings: int | None
    spool_dropped: int | None


@dataclass(frozen=True, slots=True)
class Catalogue:
    """A tenant's series with the time of the newest reading of each (ms), and device status."""

    last_seen: dict[SeriesKey, int]
    status: dict[tuple[str, str], DeviceStatus] = field(default_factory=dict)
    # Answers derived from this catalogue (e.g. encoded device lists), built once per refresh.
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def sites(self) -> list[str]:
        """Site ids, sorted."""
        return sorted({key.site for key in self.last_seen} | {site for site, _ in self.status})

    def devices(self, site: str | None = None) -> dict[tuple[str, str], list[SeriesKey]]:
        """Series grouped by (site, device), optionally of one site, sorted."""
        out: dict[tuple[str, str], list[SeriesKey]] = {}
        for key in sorted(self.last_seen, key=lambda k: (k.site, k.device, k.sensor, k.kind)):
            if site is None or key.site == site:
                out.setdefault((key.site, key.device), []).append(key)
        # A device that reported its status but no reading yet is still a device.
        for device_key in self.status:
            if (site is None or device_key[0] == site) and device_key not in out:
                out[device_key] = []
        return dict(sorted(out.items()))

    def sensor(self, site: str, device: str, sensor: str) -> SeriesKey:
        """The series of one sensor, or NotFoundError."""
        index = self.memo.get("sensors")
        if index is None:
            # Built once per catalogue: every readings or aggregates request looks a sensor up.
            # A sensor id is unique on its device; were it not, the first kind in order wins.
            index = {}
            for key in sorted(self.last_seen, key=lambda k: k.kind.value, reverse=True):
                index[key.site, key.device, key.sensor] = key
            self.memo["sensors"] = index
        found = index.get((site, device, sensor))
        if found is None:
            raise NotFoundError(f"no sensor {sensor!r} on device {device!r} at site {site!r}")
        return found
