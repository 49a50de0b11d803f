"""Quantity confirmation (数量確認) of factory bins: book, measured and counted stock.

Reading checks too: a discrepancy beyond a bin's tolerance is stored as an alert, with an id
that makes every further check rewrite it rather than add one (`models.stock.quantity`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Path, Query

from core.errors import UnavailableError
from core.time import from_ms
from dashboard.deps import (
    API_PREFIX,
    EndQuery,
    Quantity,
    ReadKey,
    StartQuery,
    TenantPath,
    time_range,
    valid_id,
)
from dashboard.schemas import (
    AUTHENTICATED,
    BinQuantityHistoryOut,
    BinQuantityOut,
    QuantityAlertOut,
    QuantityPointOut,
    RecordRef,
    error_responses,
)
from models.stock.quantity import STEP_MS, BinQuantity, QuantityPoint
from models.stock.quantity_service import QuantityService
from storage.readings import check_range
from storage.records import WorkRecord

log = logging.getLogger(__name__)

router = APIRouter(prefix=API_PREFIX, tags=["stock"], responses=error_responses(*AUTHENTICATED))

SitePath = Annotated[str, Path(description="the factory site")]
BinPath = Annotated[str, Path(description="the bin's registry id")]
DEFAULT_SPAN = dt.timedelta(days=7)


def check_after_records(
    quantity: QuantityService, tenant: str, records: Sequence[WorkRecord] | None = None
) -> None:
    """Check the bins of records just stored (None: every bin, from its current opening).

    The records are stored whatever happens here: a store that fails now leaves the check to
    the next read of the quantities, which checks again.
    """
    try:
        if records is None:
            quantity.check(tenant)
        else:
            quantity.check_records(tenant, records)
    except UnavailableError:
        log.warning("could not check quantities after new records", exc_info=True)


def _ref(record: WorkRecord | None) -> RecordRef | None:
    if record is None:
        return None
    return RecordRef(
        record=record.record, kind=record.kind, at=from_ms(record.at_ms), quantity=record.quantity
    )


def _time(ms: int | None) -> dt.datetime | None:
    return None if ms is None else from_ms(ms)


def _point(p: QuantityPoint) -> QuantityPointOut:
    return QuantityPointOut(
        time=from_ms(p.at_ms),
        book=p.book,
        measured=p.measured,
        basis=p.basis,
        weight_kg=p.weight_kg,
        weight_at=_time(p.weight_at_ms),
        counter=p.counter,
        counter_at=_time(p.counter_at_ms),
        counted=p.counted,
        discrepancy=p.discrepancy,
        counter_discrepancy=p.counter_discrepancy,
        over_tolerance=p.over,
        record=_ref(p.record),
    )


def _fields(q: BinQuantity) -> dict[str, object]:
    b = q.bin
    return {
        "site": b.site,
        "bin": b.asset,
        "device": b.device,
        "item": b.item,
        "unit_kg": b.unit_kg,
        "tare_kg": b.tare_kg,
        "capacity": b.capacity,
        "tolerance": q.tolerance,
        "tolerance_default": q.tolerance_default,
        "as_of": from_ms(q.now.at_ms),
        "now": _point(q.now),
        "opening": _ref(q.opening),
        "last_stocktake": None if q.last_stocktake is None else _point(q.last_stocktake),
        "over_tolerance": q.over_tolerance,
        "alerts": [
            QuantityAlertOut(
                id=a.alert.id,
                raised_at=from_ms(a.alert.ts_ms),
                last_seen_at=from_ms(max(a.alert.ts_ms, a.alert.last_seen_ms)),
                reason=a.alert.reason,
                reason_en=a.en,
                reason_ja=a.ja,
            )
            for a in q.alerts
        ],
    }


@router.get(
    "/tenants/{tenant}/stock/quantity",
    response_model=list[BinQuantityOut],
    summary="Book, measured and counted stock of every bin now, with discrepancies",
)
def list_quantities(
    tenant: TenantPath,
    key: ReadKey,
    quantity: Quantity,
    site: Annotated[str | None, Query(description="only the bins of this site")] = None,
) -> list[BinQuantityOut]:
    """Every registered bin: book stock, measured stock, last stocktake and discrepancy now.

    "Now" is the bin's newest reading or record when both are older than the clock. The last
    day and the stocktake or book stock in force are checked: a discrepancy beyond a bin's
    tolerance is stored as a `quantity_discrepancy` alert (checking again never adds one).
    """
    if site is not None:
        site = valid_id(site, "site")
    return [BinQuantityOut.model_validate(_fields(q)) for q in quantity.bins(key.tenant, site)]


@router.get(
    "/tenants/{tenant}/stock/bins/{site}/{bin}/quantity",
    response_model=BinQuantityHistoryOut,
    summary="A bin's book, measured and counted stock over time",
)
def bin_quantity(
    *,
    tenant: TenantPath,
    site: SitePath,
    bin: BinPath,
    key: ReadKey,
    quantity: Quantity,
    start: StartQuery = None,
    end: EndQuery = None,
) -> BinQuantityHistoryOut:
    """A point at every record and every UTC hour in [start, end] (at most 92 days; default:
    the last 7 days), the state at `end`, and the alerts of the range."""
    site = valid_id(site, "site")
    bin_id = valid_id(bin, "bin")
    start_ms, end_ms = time_range(start, end, DEFAULT_SPAN)
    check_range(start_ms, end_ms)
    q = quantity.bin(key.tenant, site, bin_id, start_ms, end_ms)
    return BinQuantityHistoryOut.model_validate(
        {
            **_fields(q),
            "start": from_ms(start_ms),
            "end": from_ms(end_ms),
            "step_s": STEP_MS // 1000,
            "points": [_point(p) for p in q.points],
        }
    )
