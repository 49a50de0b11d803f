"""Store reads behind the stock and forest routes: the asset registry, the series it names and
the work records of its assets.

Every read is a typed `Select` filtered on the tenant first. The answers the dashboard polls
(registry, bin levels, stand growth) are derived from several reads and some model fitting, so
a `TtlCache` keeps each for a few seconds per tenant and computes it once when many clients ask
at the same moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.cache import TtlCache
from core.time import MS_PER_DAY
from edge.protocol import SensorKind
from storage.assets import Registry, read_assets
from storage.layout import DEVICE, SENSOR, SERIES_TAGS, SITE, VALUE
from storage.protocol import ReadingStore
from storage.query import Aggregate, Buckets, Function, Rows, Select, match
from storage.readings import from_store, rows_of
from storage.records import RecordKind, WorkRecord, read_records

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


class AssetReader:
    """Reads a tenant's asset registry and the readings of its bins and stands."""

    def __init__(self, store: ReadingStore, ttl_s: float = 5.0) -> None:
        """Read from `store`; the registry is cached per tenant for `ttl_s` seconds."""
        self._store = store
        self._registries: TtlCache[Registry] = TtlCache(ttl_s)

    def _query(self, select: Select) -> list[Rows]:
        """The answer of a read; a missing database holds nothing."""
        return rows_of(self._store, select)

    def registry(self, tenant: str) -> Registry:
        """The tenant's newest asset descriptions (cached for a few seconds)."""
        return self._registries.get(tenant, lambda: self._read_registry(tenant))

    def _read_registry(self, tenant: str) -> Registry:
        return from_store(lambda: read_assets(self._store, tenant), Registry())

    def records(
        self, tenant: str, site: str, asset: str, kinds: Sequence[RecordKind]
    ) -> list[WorkRecord]:
        """The work records of `kinds` on one asset, oldest first (void ones left out)."""
        return from_store(
            lambda: read_records(self._store, tenant, sites=[site], assets=[asset], kinds=kinds),
            [],
        )

    def latest(
        self, tenant: str, kinds: Sequence[SensorKind], sites: Sequence[str] = ()
    ) -> dict[tuple[str, str, str], Latest]:
        """The newest reading of every sensor of `kinds`, by (site, device, sensor)."""
        series = self._query(
            Select(
                tuple(k.value for k in dict.fromkeys(kinds)),
                match(tenant=tenant, site=sites),
                aggregates=(Aggregate(Function.LAST),),
                group_by=SERIES_TAGS,
            )
        )
        out: dict[tuple[str, str, str], Latest] = {}
        for s in series:
            t, v = s.values[0][:2]
            out[s.tags[SITE], s.tags[DEVICE], s.tags[SENSOR]] = Latest(int(t), float(v))
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
            Select(
                (kind.value,),
                match(tenant=tenant, site=site, device=device, sensor=sensor),
                fields=(VALUE,),
                # Times are whole milliseconds: (start, end] is [start + 1, end + 1).
                start_ms=int(start_ms) + 1,
                end_ms=int(end_ms) + 1,
            )
        )
        rows = [row for s in series for row in s.values]
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
        series = self._query(
            Select(
                (kind.value,),
                match(tenant=tenant, site=site, device=device),
                aggregates=(Aggregate(Function.MEAN),),
                start_ms=int(start_ms),
                end_ms=int(end_ms),
                group_by=(SENSOR,),
                buckets=Buckets(period_ms, int(start_ms) % period_ms),
            )
        )
        out: dict[str, Series] = {}
        for s in series:
            rows = s.values
            out[s.tags[SENSOR]] = Series(
                np.array([int(r[0]) for r in rows], dtype=np.int64),
                np.array([float(r[1]) for r in rows], dtype=np.float64),
            )
        return out
