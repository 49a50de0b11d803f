"""Harvest forecasts per farm field, and the registered model versions with their metrics."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from dashboard.deps import API_PREFIX, Forecasts, ReadKey, TenantPath, valid_id
from dashboard.schemas import AUTHENTICATED, error_responses
from models.harvest.service import (
    FieldForecast,
    ForecastStatus,
    finite,
    gdd_base_c,
    to_date,
)
from models.registry import Better, ModelMeta, ModelStatus

router = APIRouter(
    prefix=API_PREFIX, tags=["forecasts and models"], responses=error_responses(*AUTHENTICATED)
)


class MaturityOut(BaseModel):
    """Forecast maturity day (Asia/Tokyo date) with its 80 % interval."""

    date: dt.date
    low: dt.date
    high: dt.date


class YieldOut(BaseModel):
    """Forecast yield with its 80 % interval, in the unit of the training seasons."""

    value: float
    low: float
    high: float
    unit: str


class WindowOut(BaseModel):
    """Recommended harvest window (Asia/Tokyo dates, inclusive)."""

    start: dt.date
    end: dt.date


class GddDayOut(BaseModel):
    """Growing-degree days above `gdd_base_c` accumulated from planting to the end of `date`."""

    date: dt.date
    gdd: float


class ForecastOut(BaseModel):
    """A field's harvest forecast as of a day; numbers are null unless `status` is `ok`."""

    model_config = ConfigDict(populate_by_name=True)

    site: str
    field: str = Field(description="the field's id in the asset registry")
    crop: str
    planting_date: dt.date | None = Field(description="planting of the current season")
    as_of: dt.date = Field(description="last day of observed weather (Asia/Tokyo)")
    status: ForecastStatus
    reason: str | None = Field(description="why there is no forecast; null when status is ok")
    maturity: MaturityOut | None
    yield_: YieldOut | None = Field(alias="yield")
    harvest_window: WindowOut | None
    days_known: int = Field(ge=0, description="days of observed weather since planting")
    climate_source: str | None = Field(
        description="where the rest of the season's weather comes from: field, field_history "
        "or pooled analog years"
    )
    message: str = Field("", description="the model's warnings (gaps, fallbacks)")
    gdd_base_c: float
    gdd: list[GddDayOut] = Field(description="one entry per day with temperatures since planting")
    model_version: int | None = Field(description="version of the harvest model used")


class FieldOut(BaseModel):
    """A registered farm field with its current season and forecast (null when none)."""

    site: str
    field: str
    device: str
    crop: str
    area_ha: float
    planting_date: dt.date | None
    status: ForecastStatus
    reason: str | None
    forecast: ForecastOut | None


class MetricOut(BaseModel):
    """A held-out metric, its baseline and whether it passed the acceptance gate."""

    value: float | None
    baseline: float | None
    better: Better
    passed: bool
    note: str


class TrainingWindowOut(BaseModel):
    """Days of weather the model was trained on (Asia/Tokyo dates)."""

    start: dt.date
    end: dt.date


class ModelOut(BaseModel):
    """A registered model version; only `good` versions are served."""

    name: str
    version: int
    created_at: dt.datetime
    training_window: TrainingWindowOut
    metrics: dict[str, MetricOut]
    status: ModelStatus
    reason: str | None
    data: dict[str, Any] = Field(description="what it was trained on: seasons, fields, crops")


AsOfQuery = Annotated[
    dt.date | None,
    Query(description="last day of known weather, YYYY-MM-DD (Asia/Tokyo); default yesterday"),
]


def forecast_out(f: FieldForecast) -> ForecastOut:
    """The wire form of a field forecast."""
    p = f.prediction
    ok = f.status is ForecastStatus.OK and p is not None
    return ForecastOut(
        site=f.asset.site,
        field=f.asset.asset,
        crop=f.asset.crop,
        planting_date=f.planting,
        as_of=f.as_of,
        status=f.status,
        reason=f.reason or None,
        maturity=MaturityOut(
            date=to_date(p.maturity), low=to_date(p.maturity_low), high=to_date(p.maturity_high)
        )
        if ok
        else None,
        yield_=YieldOut(value=p.yield_value, low=p.yield_low, high=p.yield_high, unit=f.yield_unit)
        if ok
        else None,
        harvest_window=WindowOut(start=to_date(p.window_start), end=to_date(p.window_end))
        if ok
        else None,
        days_known=p.days_known if ok else 0,
        climate_source=p.climate_source.value if ok and p.climate_source else None,
        message=p.message if ok else "",
        gdd_base_c=gdd_base_c(),
        gdd=[GddDayOut(date=d, gdd=g) for d, g in f.gdd],
        model_version=f.model.version if f.model else None,
    )


def model_out(meta: ModelMeta) -> ModelOut:
    """The wire form of a registered version."""
    return ModelOut(
        name=meta.name,
        version=meta.version,
        created_at=meta.created_at,
        training_window=TrainingWindowOut(start=meta.window_start, end=meta.window_end),
        metrics={
            k: MetricOut(
                value=finite(m.value),
                baseline=m.baseline,
                better=m.better,
                passed=m.passed,
                note=m.note,
            )
            for k, m in meta.metrics.items()
        },
        status=meta.status,
        reason=meta.reason or None,
        data=meta.data,
    )


@router.get(
    "/tenants/{tenant}/fields",
    response_model=list[FieldOut],
    response_model_by_alias=True,
    summary="List farm fields with their harvest forecasts",
)
def list_fields(
    tenant: TenantPath, key: ReadKey, forecasts: Forecasts, as_of: AsOfQuery = None
) -> list[FieldOut]:
    """Every registered farm field, its current season and forecast (null, with a reason, when
    there is no good model, no current season or no weather)."""
    out = []
    for f in forecasts.fields(key.tenant, as_of):
        wire = forecast_out(f)
        out.append(
            FieldOut(
                site=f.asset.site,
                field=f.asset.asset,
                device=f.asset.device,
                crop=f.asset.crop,
                area_ha=f.asset.area_ha,
                planting_date=f.planting,
                status=f.status,
                reason=f.reason or None,
                forecast=wire if f.status is ForecastStatus.OK else None,
            )
        )
    return out


@router.get(
    "/tenants/{tenant}/fields/{site}/forecast",
    response_model=ForecastOut,
    response_model_by_alias=True,
    summary="Harvest forecast of one field",
)
def get_forecast(
    tenant: TenantPath,
    site: str,
    *,
    key: ReadKey,
    forecasts: Forecasts,
    as_of: AsOfQuery = None,
    field: Annotated[
        str | None, Query(description="the field's id, when a site has several")
    ] = None,
) -> ForecastOut:
    """Maturity date and yield with 80 % intervals, the harvest window and growing-degree days
    since planting. 404 only when the site is not a registered field of the tenant; a field
    without a good model, current season or weather answers 200 with `status` and `reason`."""
    site = valid_id(site, "site")
    if field is not None:
        field = valid_id(field, "field")
    return forecast_out(forecasts.forecast(key.tenant, site, as_of, field))


@router.get(
    "/tenants/{tenant}/models",
    response_model=list[ModelOut],
    summary="List registered model versions and their metrics",
)
def list_models(tenant: TenantPath, key: ReadKey, forecasts: Forecasts) -> list[ModelOut]:
    """Every version of every model of the tenant, newest first per model, good and rejected."""
    return [model_out(m) for m in forecasts.models(key.tenant)]
