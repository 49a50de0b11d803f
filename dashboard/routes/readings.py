"""Raw readings of a sensor with cursor paging, and aggregates computed by the store."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import threading
from collections import OrderedDict
from typing import Annotated

from fastapi import APIRouter, Query, Response

from core.time import from_ms
from dashboard.deps import (
    API_PREFIX,
    Context,
    EndQuery,
    ReadKey,
    StartQuery,
    TenantPath,
    time_range,
    valid_id,
)
from dashboard.schemas import (
    AUTHENTICATED,
    AggregatesOut,
    BucketOut,
    ReadingOut,
    ReadingsPage,
    error_responses,
)
from storage.errors import QueryError
from storage.readings import AggregateFunction, Interval, SeriesKey

router = APIRouter(prefix=API_PREFIX, tags=["readings"], responses=error_responses(*AUTHENTICATED))


class _EncodedAnswers:
    """JSON bodies of the reader's cached aggregate answers, so a cache hit is not re-encoded.

    An answer is found by the identity of the cached rows object: the reader hands out the
    same object for the same (tenant, series, range, interval, functions) until it expires.
    Each entry keeps its rows alive, so an identity can never be reused while it is here.
    """

    def __init__(self, entries: int = 256) -> None:
        """Keep at most `entries` bodies, the most recently used."""
        self._entries = entries
        self._bodies: OrderedDict[int, tuple[object, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, rows: object) -> bytes | None:
        """The body encoded for exactly this rows object, if still kept."""
        with self._lock:
            hit = self._bodies.get(id(rows))
            if hit is None or hit[0] is not rows:
                return None
            self._bodies.move_to_end(id(rows))
            return hit[1]

    def put(self, rows: object, body: bytes) -> None:
        """Keep `body` for `rows`, dropping the least recently used beyond the bound."""
        with self._lock:
            self._bodies[id(rows)] = (rows, body)
            self._bodies.move_to_end(id(rows))
            while len(self._bodies) > self._entries:
                self._bodies.popitem(last=False)


_encoded = _EncodedAnswers()

_SENSOR_PATH = "/tenants/{tenant}/sites/{site}/devices/{device}/sensors/{sensor}"
_CURSOR_PREFIX = "after:"


def _encode_cursor(last_ms: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{last_ms}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode()
        if not text.startswith(_CURSOR_PREFIX):
            raise ValueError(text)
        return int(text[len(_CURSOR_PREFIX) :])
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise QueryError("invalid cursor") from exc


def _series(context: Context, tenant: str, site: str, device: str, sensor: str) -> SeriesKey:
    catalogue = context.reader.catalogue(tenant)
    return catalogue.sensor(
        valid_id(site, "site"), valid_id(device, "device"), valid_id(sensor, "sensor")
    )


@router.get(_SENSOR_PATH + "/readings", response_model=ReadingsPage, summary="Raw readings")
def get_readings(
    *,
    tenant: TenantPath,
    site: str,
    device: str,
    sensor: str,
    key: ReadKey,
    context: Context,
    start: StartQuery = None,
    end: EndQuery = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="readings per page")] = 1000,
    cursor: Annotated[str | None, Query(max_length=64, description="from `next_cursor`")] = None,
) -> ReadingsPage:
    """Readings in [start, end) oldest first (default: the last 24 hours), a page at a time."""
    series = _series(context, key.tenant, site, device, sensor)
    start_ms, end_ms = time_range(start, end, dt.timedelta(days=1))
    if cursor is not None:
        start_ms = max(start_ms, _decode_cursor(cursor) + 1)
        # The last page may leave a cursor at the very end of the range.
        if start_ms >= end_ms:
            return _page(series, [], None)
    rows = context.reader.readings(key.tenant, series, start_ms, end_ms, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode_cursor(rows[-1].time_ms) if more else None
    return _page(
        series, [ReadingOut(time=from_ms(r.time_ms), value=r.value) for r in rows], next_cursor
    )


def _page(series: SeriesKey, items: list[ReadingOut], next_cursor: str | None) -> ReadingsPage:
    return ReadingsPage(
        site=series.site,
        device=series.device,
        sensor=series.sensor,
        kind=series.kind,
        unit=series.kind.unit.value,
        items=items,
        next_cursor=next_cursor,
    )


@router.get(
    _SENSOR_PATH + "/aggregates", response_model=AggregatesOut, summary="Aggregates over buckets"
)
def get_aggregates(
    *,
    tenant: TenantPath,
    site: str,
    device: str,
    sensor: str,
    key: ReadKey,
    context: Context,
    start: StartQuery = None,
    end: EndQuery = None,
    interval: Annotated[Interval, Query(description="bucket width")] = Interval.HOUR,
    functions: Annotated[
        list[AggregateFunction] | None,
        Query(alias="function", description="repeat for several; default: all"),
    ] = None,
) -> Response:
    """Mean, min, max and count per bucket in [start, end) (default: the last 7 days).

    Buckets are aligned to the UTC epoch (days start at 00:00 UTC); empty ones are left out.
    """
    series = _series(context, key.tenant, site, device, sensor)
    start_ms, end_ms = time_range(start, end, dt.timedelta(days=7))
    chosen = list(dict.fromkeys(functions or AggregateFunction))
    rows = context.reader.aggregates(
        key.tenant,
        series,
        start_ms=start_ms,
        end_ms=end_ms,
        interval=interval,
        functions=chosen,
    )
    if context.settings.aggregate_ttl_s > 0:
        body = _encoded.get(rows)
        if body is not None:
            return Response(body, media_type="application/json")
    buckets = [
        BucketOut(time=from_ms(int(row["time"])), **{f.value: row[f.value] for f in chosen})
        for row in rows
    ]
    answer = AggregatesOut(
        site=series.site,
        device=series.device,
        sensor=series.sensor,
        kind=series.kind,
        unit=series.kind.unit.value,
        interval=interval,
        functions=chosen,
        start=from_ms(start_ms),
        end=from_ms(end_ms),
        buckets=buckets,
    )
    # Already validated: encoding it directly spares a second pass through the response model.
    body = answer.model_dump_json().encode()
    if context.settings.aggregate_ttl_s > 0:
        _encoded.put(rows, body)
    return Response(body, media_type="application/json")
