"""Crop thermal time, growth stage, chill, VPD and apple scab of a farm field, as of a day."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from dashboard.deps import API_PREFIX, ReadKey, TenantPath, valid_id
from dashboard.schemas import AUTHENTICATED, error_responses
from models.field.parts import DayValue, StageDay
from models.field.service import FieldAnalysis, FieldAnalytics, Part
from models.field.stages import Stage

router = APIRouter(
    prefix=API_PREFIX, tags=["field analytics"], responses=error_responses(*AUTHENTICATED)
)
_lock = threading.Lock()


def get_analytics(request: Request) -> FieldAnalytics:
    """The application's field analytics over its store, built on first use and then shared."""
    state = request.app.state
    with _lock:
        analytics: FieldAnalytics | None = getattr(state, "field_analytics", None)
        if analytics is None:
            analytics = state.field_analytics = FieldAnalytics(state.context.registry.store)
    return analytics


Analytics = Annotated[FieldAnalytics, Depends(get_analytics)]


class DayValueOut(BaseModel):
    """One day's value (Asia/Tokyo date)."""

    date: dt.date
    value: float


class GddOut(BaseModel):
    """Growing-degree days (積算温度) with the crop's own base and upper cut-off."""

    base_c: float = Field(description="base temperature, °C")
    upper_c: float | None = Field(description="upper cut-off, °C (horizontal); null: none")
    method: str = Field(description="daily method (Zalom et al. 1983): average of min and max")
    source: str = Field(description="where the thresholds were published")
    start: dt.date = Field(description="first day summed")
    start_rule: str = Field(description="why the sum starts on `start`")
    total: float = Field(description="°C·day summed from `start` to `as_of`")
    days_missing: int = Field(description="days without both extremes, which add nothing")
    daily: list[DayValueOut] = Field(description="each day's degree days, °C·day")
    cumulative: list[DayValueOut] = Field(description="running sum, °C·day")


class StageOut(BaseModel):
    """A BBCH growth stage (生育ステージ) of a crop's stage table."""

    bbch: int = Field(description="BBCH code (Meier 2001)")
    bbch_span: tuple[int, int] = Field(description="BBCH codes the stage covers")
    key: str = Field(description="the stage's key, the same in every language")
    name_ja: str
    name_en: str
    gdd: float = Field(description="threshold on the table's own thermal scale, °C·day")
    source: str = Field(description="the stage table's source")
    confirmed: bool = Field(description="false when a threshold could not be checked")


class StageDayOut(BaseModel):
    """The stage reached by the end of a day and the table's thermal time then."""

    date: dt.date
    value: float = Field(description="°C·day on the table's scale since its start")
    bbch: int
    key: str


class StagesOut(BaseModel):
    """The current stage, the next one and the stage of every day since the table's start."""

    current: StageOut
    next: StageOut | None = Field(description="the next stage of the table; null after the last")
    cumulative: float = Field(description="°C·day on the table's scale at `as_of`")
    base_c: float = Field(description="base of the table's thermal scale, °C")
    upper_c: float | None
    start: dt.date
    start_rule: str
    confirmed: bool = Field(description="false when a threshold could not be checked")
    source: str
    series: list[StageDayOut]


class ChillOut(BaseModel):
    """Winter chill since the chill season's start: running sums per day."""

    start: dt.date
    end: dt.date = Field(description="last day summed: as_of, or 31 March")
    start_rule: str
    utah_units: float = Field(description="Utah chill units (Richardson et al. 1974)")
    chill_portions: float = Field(description="Dynamic model portions (Fishman et al. 1987)")
    chilling_hours: float = Field(description="hours at 0-7.2 °C (Weinberger 1950)")
    hours_used: int
    hours_missing: int = Field(description="hours without temperature; they add nothing")
    utah_series: list[DayValueOut]
    portions_series: list[DayValueOut]
    hours_series: list[DayValueOut]


class VpdDayOut(BaseModel):
    """A day's vapour pressure deficit (飽差) from hourly means, kPa."""

    date: dt.date
    value: float = Field(description="mean of the hourly VPD, kPa")
    max: float = Field(description="highest hourly VPD, kPa")
    hours: int = Field(description="hours with both temperature and humidity")


class VpdOut(BaseModel):
    """Daily VPD (FAO-56 saturation vapour pressure) over the season or the last 30 days."""

    start: dt.date
    end: dt.date
    days: list[VpdDayOut]


class WetnessOut(BaseModel):
    """Hours at least half wet per day, from the leaf wetness sensor."""

    start: dt.date
    end: dt.date
    days: list[DayValueOut]


class ScabEventOut(BaseModel):
    """A wet period judged by the revised Mills table (MacHardy & Gadoury 1989)."""

    start: dt.datetime = Field(description="first counted wet hour, Asia/Tokyo")
    end: dt.datetime = Field(description="end of the last wet hour, Asia/Tokyo")
    wet_hours: int
    mean_temp_c: float
    required_hours: float | None = Field(description="hours needed; null off the table")
    infection: bool


class ScabOut(BaseModel):
    """Apple scab (黒星病) ascospore infection periods over the season."""

    start: dt.date
    end: dt.date
    infections: int = Field(description="wet periods that met the table")
    events: list[ScabEventOut] = Field(description="every wet period, infection or not")


class AnalyticsOut(BaseModel):
    """A field's analytics as of a day; a part is null when `absent` gives its reason."""

    site: str
    field: str = Field(description="the field's id in the asset registry")
    crop: str
    as_of: dt.date = Field(description="last day of weather used (Asia/Tokyo)")
    season_start: dt.date | None = Field(description="first day of the current season")
    gdd: GddOut | None
    stage: StagesOut | None
    chill: ChillOut | None
    vpd: VpdOut | None
    wetness: WetnessOut | None
    scab: ScabOut | None
    absent: dict[Part, str] = Field(description="why each missing part is missing")


def _days(values: tuple[DayValue, ...]) -> list[DayValueOut]:
    """Dated values on the wire, rounded to what a chart can show."""
    return [DayValueOut(date=v.date, value=round(v.value, 4)) for v in values]


def _stage(stage: Stage, source: str, confirmed: bool) -> StageOut:
    """One stage on the wire."""
    return StageOut(
        bbch=stage.bbch,
        bbch_span=stage.bbch_span,
        key=stage.key.value,
        name_ja=stage.name_ja,
        name_en=stage.name_en,
        gdd=round(stage.gdd, 2),
        source=source,
        confirmed=confirmed,
    )


def _stage_day(day: StageDay) -> StageDayOut:
    """One day of the stage series on the wire."""
    return StageDayOut(
        date=day.date, value=round(day.value, 4), bbch=day.stage.bbch, key=day.stage.key.value
    )


def analytics_out(a: FieldAnalysis) -> AnalyticsOut:
    """The wire form of a field's analytics."""
    g, s, c, v, w, sc = a.gdd, a.stage, a.chill, a.vpd, a.wetness, a.scab
    return AnalyticsOut(
        site=a.asset.site,
        field=a.asset.asset,
        crop=a.crop,
        as_of=a.as_of,
        season_start=a.season_start,
        gdd=None
        if g is None
        else GddOut(
            base_c=round(g.thermal.base_c, 4),
            upper_c=None if g.thermal.upper_c is None else round(g.thermal.upper_c, 4),
            method=g.method.value,
            source=g.thermal.source,
            start=g.start,
            start_rule=g.start_rule,
            total=round(g.cumulative[-1].value, 4) if g.cumulative else 0.0,
            days_missing=g.days_missing,
            daily=_days(g.daily),
            cumulative=_days(g.cumulative),
        ),
        stage=None
        if s is None
        else StagesOut(
            current=_stage(s.current, s.table.source, s.table.confirmed),
            next=None
            if s.next_stage is None
            else _stage(s.next_stage, s.table.source, s.table.confirmed),
            cumulative=round(s.cumulative, 4),
            base_c=round(s.table.thermal.base_c, 4),
            upper_c=None if s.table.thermal.upper_c is None else round(s.table.thermal.upper_c, 4),
            start=s.start,
            start_rule=s.start_rule,
            confirmed=s.table.confirmed,
            source=s.table.source,
            series=[_stage_day(d) for d in s.series],
        ),
        chill=None
        if c is None
        else ChillOut(
            start=c.start,
            end=c.end,
            start_rule=c.start_rule,
            utah_units=c.utah_units[-1].value if c.utah_units else 0.0,
            chill_portions=c.chill_portions[-1].value if c.chill_portions else 0.0,
            chilling_hours=c.chilling_hours[-1].value if c.chilling_hours else 0.0,
            hours_used=c.hours_used,
            hours_missing=c.hours_missing,
            utah_series=_days(c.utah_units),
            portions_series=_days(c.chill_portions),
            hours_series=_days(c.chilling_hours),
        ),
        vpd=None
        if v is None
        else VpdOut(
            start=v.start,
            end=v.end,
            days=[
                VpdDayOut(date=d.date, value=round(d.value, 4), max=round(d.max, 4), hours=d.hours)
                for d in v.days
            ],
        ),
        wetness=None if w is None else WetnessOut(start=w.start, end=w.end, days=_days(w.days)),
        scab=None
        if sc is None
        else ScabOut(
            start=sc.start,
            end=sc.end,
            infections=len(sc.infections),
            events=[
                ScabEventOut(
                    start=e.start,
                    end=e.end,
                    wet_hours=e.wet_hours,
                    mean_temp_c=round(e.mean_temp_c, 3),
                    required_hours=None if e.required_hours is None else round(e.required_hours, 2),
                    infection=e.infection,
                )
                for e in sc.periods
            ],
        ),
        absent=a.absent,
    )


@router.get(
    "/tenants/{tenant}/fields/{site}/analytics",
    response_model=AnalyticsOut,
    summary="Thermal time, growth stage, chill, VPD and apple scab of one field",
)
def get_analytics_of_field(
    tenant: TenantPath,
    site: str,
    *,
    key: ReadKey,
    analytics: Analytics,
    as_of: Annotated[
        dt.date | None,
        Query(description="last day of weather, YYYY-MM-DD (Asia/Tokyo); default yesterday"),
    ] = None,
    field: Annotated[
        str | None, Query(description="the field's id, when a site has several")
    ] = None,
    heading: Annotated[
        dt.date | None,
        Query(description="rice only: heading date (出穂期), from which its stages count"),
    ] = None,
) -> AnalyticsOut:
    """Growing-degree days with the crop's own thresholds, the BBCH stage from thermal time,
    chill (apple, grape), daily VPD, leaf wetness hours and apple scab infection periods.
    404 only when the site is not a registered field of the tenant; a part without its sensors
    or season is null, with the reason in `absent`. 400 for a date out of range."""
    site = valid_id(site, "site")
    if field is not None:
        field = valid_id(field, "field")
    found = analytics.analyse(key.tenant, site, field_id=field, as_of=as_of, heading=heading)
    return analytics_out(found)
