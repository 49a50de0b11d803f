"""Store reads behind the stock and forest routes: the asset registry and the series it names.

Every query is built from typed arguments with each tag value quoted, and filtered on the
tenant first. The answers the dashboard polls (registry, bin levels, stand growth) are derived
from several queries and some model fitting, so a `TtlCache` keeps each for a few seconds per
tenant and computes it once when many clients ask at the same moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from core.cache import TtlCache
from core.time import MS_PER_DAY
from edge.protocol import SensorKind
from storage.assets import Registry, read_assets
from storage.influx.client import InfluxStore, quote_string
from storage.readings import first_series, from_store

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Latest:
    """The newest reading of one sensor."""

    time_ms: int
    value: float


@dataclass(frozen=True, slots=True)
class Series:
    """Readings of one sensor in time order."""

    ts_ms: IntArray
    values: FloatArray


def _where(tenant: str, site: str | None = None, device: str | None = None) -> str:
    clauses = [f'"tenant" = {quote_string(tenant)}']
    if site is not None:
        clauses.append(f'"site" = {quote_string(site)}')
    if device is not None:
        clauses.append(f'"device" = {quote_string(device)}')
    return " AND ".join(clauses)


class AssetReader:
    """Reads a tenant's asset registry and the readings of its bins and stands."""

    def __init__(self, store: InfluxStore, ttl_s: float = 5.0) -> None:
        """Read from `store`; the registry is cached per tenant for `ttl_s` seconds."""
        self._store = store
        self._registries: TtlCache[Registry] = TtlCache(ttl_s)

    def _query(self, q: str) -> list[dict[str, Any]]:
        """Series of the first statement's answer; a missing database holds nothing."""
        return first_series(self._store, q)

    def registry(self, tenant: str) -> Registry:
        """The tenant's newest asset descriptions (cached for a few seconds)."""
        return self._registries.get(tenant, lambda: self._read_registry(tenant))

    def _read_registry(self, tenant: str) -> Registry:
        return from_store(lambda: read_assets(self._store, tenant), Registry())

    def latest(
        self, tenant: str, kinds: Sequence[SensorKind], sites: Sequence[str] = ()
    ) -> dict[tuple[str, str, str], Latest]:
        """The newest reading of every sensor of `kinds`, by (site, device, sensor)."""
        measurements = ",".join(f'"{k.value}"' for k in dict.fromkeys(kinds))
        where = _where(tenant)
        if sites:
            where += " AND (" + " OR ".join(f'"site" = {quote_string(s)}' for s in sites) + ")"
        series = self._query(
            f'SELECT last("value") FROM {measurements} WHERE {where} '
            'GROUP BY "site", "device", "sensor"'
        )
        out: dict[tuple[str, str, str], Latest] = {}
        for s in series:
            tags = s["tags"]
            t, v = s["values"][0][:2]
            out[tags["site"], tags["device"], tags["sensor"]] = Latest(int(t), float(v))
        return out

    def history(
        self,
        tenant: str,
        kind: SensorKind,
        key: tuple[str, str, str],
        start_ms: int,
        end_ms: int,
    ) -> Series:
        """Readings of one sensor (site, device, sensor) with start < time <= end, oldest first."""
        site, device, sensor = key
        series = self._query(
            f'SELECT "value" FROM "{kind.value}" WHERE {_where(tenant, site, device)} '
            f'AND "sensor" = {quote_string(sensor)} '
            f"AND time > {int(start_ms)}ms AND time <= {int(end_ms)}ms"
        )
        rows = [row for s in series for row in s["values"]]
        ts = np.fromiter((int(r[0]) for r in rows), np.int64, len(rows))
        values = np.fromiter((float(r[1]) for r in rows), np.float64, len(rows))
        return Series(ts, values)

    def period_means(
        self,
        tenant: str,
        kind: SensorKind,
        site: str,
        device: str,
        *,
        start_ms: int,
        end_ms: int,
        period_days: int,
    ) -> dict[str, Series]:
        """Per sensor of a device: the mean over periods starting at `start_ms`, in the store.

        Each value is time-stamped at the start of its period; empty periods are left out.
        """
        period_ms = period_days * MS_PER_DAY
        offset_ms = int(start_ms) % period_ms
        series = self._query(
            f'SELECT mean("value") FROM "{kind.value}" WHERE {_where(tenant, site, device)} '
            f"AND time >= {int(start_ms)}ms AND time < {int(end_ms)}ms "
            f'GROUP BY time({period_ms}ms, {offset_ms}ms), "sensor" fill(none)'
        )
        out: dict[str, Series] = {}
        for s in series:
            rows = s["values"]
            out[s["tags"]["sensor"]] = Series(
                np.array([int(r[0]) for r in rows], dtype=np.int64),
                np.array([float(r[1]) for r in rows], dtype=np.float64),
            )
        return out
