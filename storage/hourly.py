"""Hourly means of one field's sensors, labelled by the hour's end, as the hourly models read them.

A reading stamped 17:20 (or 18:00 sharp) belongs to the hour labelled 18:00: the buckets are one
hour wide and start 1 ms after each whole hour, so (17:00, 18:00] is one hour, known at 18:00.
Japan has no daylight saving time and a whole-hour offset from UTC, so UTC hours are local
hours. Several readings (or several sensors of one kind) in an hour are averaged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.time import MS_PER_HOUR
from edge.protocol import SensorKind
from storage.protocol import ReadingStore
from storage.query import Aggregate, Buckets, Function, Select, match

MEAN = "mean"


@dataclass(frozen=True, slots=True)
class HourlySeries:
    """One kind's hours with readings: each hour's end (ms) and mean value."""

    kind: SensorKind
    hour_end_ms: tuple[int, ...]
    values: tuple[float, ...]


def hourly_means(
    store: ReadingStore,
    *,
    tenant: str,
    site: str,
    device: str,
    kinds: Sequence[SensorKind],
    start_ms: int,
    end_ms: int,
    sensors: Sequence[str] = (),
) -> dict[SensorKind, HourlySeries]:
    """Hourly means of each kind on the device in [start, end); `sensors` limits the channels.

    Kinds without any reading are left out. Raises the store's errors.
    """
    if not kinds or end_ms <= start_ms:
        return {}
    answer = store.rows(
        Select(
            tuple(k.value for k in kinds),
            match(tenant=tenant, site=site, device=device, sensor=tuple(sensors)),
            aggregates=(Aggregate(Function.MEAN, alias=MEAN),),
            start_ms=int(start_ms),
            end_ms=int(end_ms),
            buckets=Buckets(MS_PER_HOUR, offset_ms=1),
        )
    )
    out: dict[SensorKind, HourlySeries] = {}
    for serie in answer:
        kind = SensorKind(serie.measurement)
        rows = [
            (int(r["time"]) - 1 + MS_PER_HOUR, float(r[MEAN]))
            for r in serie.records()
            if r[MEAN] is not None
        ]
        if rows:
            out[kind] = HourlySeries(kind, tuple(t for t, _ in rows), tuple(v for _, v in rows))
    return out
