"""Factory bins: stock levels, stock-out forecasts and reorder flags."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from core.time import from_ms
from dashboard.deps import API_PREFIX, ReadKey, Stock, TenantPath, valid_id
from dashboard.schemas import AUTHENTICATED, error_responses
from models.stock.service import HORIZON_H, Basis, BinStatus

router = APIRouter(prefix=API_PREFIX, tags=["stock"], responses=error_responses(*AUTHENTICATED))


class StockoutOut(BaseModel):
    """When the bin is expected to run empty, with an 80 % interval."""

    expected_at: dt.datetime = Field(description="median forecast of the stock-out time")
    low: dt.datetime = Field(description="early end of the 80 % interval")
    high: dt.datetime = Field(description="late end of the 80 % interval")
    hours: float = Field(description="hours from `as_of` to `expected_at`")
    hours_low: float = Field(description="hours from `as_of` to `low`")
    hours_high: float = Field(description="hours from `as_of` to `high`")
    horizon_h: float = Field(
        description="the forecast looks this far ahead; hours at the horizon mean 'not within it'"
    )
    as_of: dt.datetime = Field(description="time of the newest reading the forecast used")
    basis: Basis = Field(description="the sensor forecast: load cell (kg) or item counter")
    level: float = Field(description="level now in the basis' unit (kg or items)")


class BinOut(BaseModel):
    """A registered bin with its level, forecast and whether to reorder now."""

    site: str
    device: str
    bin: str
    item: str
    unit_kg: float = Field(description="weight of one item (kg)")
    capacity: int = Field(description="items the bin holds when full")
    reorder_point: int | None = Field(description="items at which an order is placed, if any")
    weight_kg: float | None = Field(description="newest load-cell reading (kg)")
    count: int | None = Field(description="newest item-counter reading")
    level_at: dt.datetime | None = Field(description="time of the newer of those two readings")
    stockout: StockoutOut | None = Field(description="null when the history is too short")
    stockout_unavailable: str | None = Field(description="why there is no forecast, if none")
    lead_time_h: float = Field(description="hours from order to delivery")
    reorder: bool = Field(
        description="the 80 % interval's early end is within the lead time: order now"
    )


def _bin_out(status: BinStatus) -> BinOut:
    b = status.bin
    times = [r.time_ms for r in (status.weight, status.count) if r is not None]
    stockout = None
    if status.stockout is not None:
        view = status.stockout
        fc = view.forecast
        stockout = StockoutOut(
            expected_at=from_ms(fc.stockout_ms),
            low=from_ms(view.low_ms),
            high=from_ms(view.high_ms),
            hours=fc.hours_median,
            hours_low=fc.hours_low,
            hours_high=fc.hours_high,
            horizon_h=HORIZON_H,
            as_of=from_ms(fc.now_ms),
            basis=view.basis,
            level=fc.level,
        )
    return BinOut(
        site=b.site,
        device=b.device,
        bin=b.asset,
        item=b.item,
        unit_kg=b.unit_kg,
        capacity=b.capacity,
        reorder_point=b.reorder_point,
        weight_kg=None if status.weight is None else status.weight.value,
        count=None if status.count is None else round(status.count.value),
        level_at=from_ms(max(times)) if times else None,
        stockout=stockout,
        stockout_unavailable=status.unavailable,
        lead_time_h=b.lead_time_h,
        reorder=status.reorder,
    )


@router.get(
    "/tenants/{tenant}/bins",
    response_model=list[BinOut],
    summary="Stock levels, stock-out forecasts and reorder flags",
)
def list_bins(
    tenant: TenantPath,
    key: ReadKey,
    stock: Stock,
    site: Annotated[str | None, Query(description="only the bins of this site")] = None,
) -> list[BinOut]:
    """Every bin the asset registry describes, with its newest weight and count readings.

    The stock-out forecast uses the last four weeks of the bin's load cell (`models.stock.stockout`)
    as of its newest reading; answers are shared for a few seconds.
    """
    if site is not None:
        site = valid_id(site, "site")
    statuses = stock.bins(key.tenant)
    return [_bin_out(s) for s in statuses if site is None or s.bin.site == site]
