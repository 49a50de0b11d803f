"""A tenant's alerts (stock, device and sensor health, rules, forecasts): list, acknowledge,
resolve with a note."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query
from pydantic import BaseModel, Field

from core.time import from_ms
from dashboard.deps import API_PREFIX, AckKey, Alerts, ReadKey, TenantPath, valid_id
from dashboard.schemas import AUTHENTICATED, error_responses
from storage.alert_types import AlertKind, AlertState, AlertView
from storage.errors import StoreDownError, StoreError

router = APIRouter(prefix=API_PREFIX, tags=["alerts"], responses=error_responses(*AUTHENTICATED))

AlertIdPath = Annotated[str, Path(description="the alert's id, as listed")]


class AlertOut(BaseModel):
    """An alert raised from a bin's readings, with its acknowledgement if any."""

    id: str = Field(description="stable id: a redelivered reading never makes a second alert")
    site: str
    device: str
    sensor: str = Field(description="the bin's weight sensor (count sensor for count_jump)")
    kind: AlertKind
    score: float = Field(ge=0.0, le=1.0, description="how strong the evidence is, 0 to 1")
    reason: str = Field(description="a short explanation for people, English (times in JST)")
    reason_ja: str = Field(description="the same in Japanese; empty for older alerts")
    raised_at: dt.datetime = Field(description="time of the reading that raised it")
    last_seen_at: dt.datetime = Field(
        description="time of the latest reading confirming the same episode"
    )
    acknowledged_at: dt.datetime | None = Field(description="null while open")
    acknowledged_by: str | None = Field(description="id of the key that acknowledged it")
    acknowledged_note: str = Field(default="", description="the note given on acknowledging")
    state: AlertState = Field(description="open, acknowledged or resolved")
    resolved_at: dt.datetime | None = Field(default=None, description="null until resolved")
    resolved_by: str | None = Field(default=None, description="id of the key that resolved it")
    resolution_note: str = Field(default="", description="what was done, as written on resolving")


class HandlingIn(BaseModel):
    """A note about what was seen or done (optional for acknowledging)."""

    note: str = Field(default="", max_length=1000, description="free text, one line is kept")


@contextmanager
def _store_errors() -> Iterator[None]:
    """Turn the alert store's failures into the API's (an unknown alert is a 404 by its type)."""
    try:
        yield
    except StoreError as exc:
        raise StoreDownError(str(exc)) from exc


def _out(view: AlertView) -> AlertOut:
    alert = view.alert
    return AlertOut(
        id=alert.id,
        site=alert.site,
        device=alert.device,
        sensor=alert.sensor,
        kind=alert.kind,
        score=alert.score,
        reason=alert.reason,
        reason_ja=alert.reason_ja,
        raised_at=from_ms(alert.ts_ms),
        last_seen_at=from_ms(max(alert.last_seen_ms, alert.ts_ms)),
        acknowledged_at=None if view.acknowledged_ms is None else from_ms(view.acknowledged_ms),
        acknowledged_by=view.acknowledged_by,
        acknowledged_note=view.ack_note,
        state=view.state,
        resolved_at=None if view.resolved is None else from_ms(view.resolved.at_ms),
        resolved_by=None if view.resolved is None else view.resolved.by,
        resolution_note="" if view.resolved is None else view.resolved.note,
    )


@router.get("/tenants/{tenant}/alerts", response_model=list[AlertOut], summary="List alerts")
def list_alerts(
    *,
    tenant: TenantPath,
    key: ReadKey,
    alerts: Alerts,
    state: Annotated[
        AlertState, Query(description="open (default), acknowledged, resolved or all")
    ] = AlertState.OPEN,
    site: Annotated[str | None, Query(description="only alerts of this site")] = None,
    kind: Annotated[
        list[AlertKind] | None, Query(description="only alerts of these kinds (repeat)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many")] = 100,
) -> list[AlertOut]:
    """The tenant's alerts in `state`, newest first."""
    if site is not None:
        site = valid_id(site, "site")
    with _store_errors():
        views = alerts.list_alerts(key.tenant, state, site=site, kinds=kind or (), limit=limit)
    return [_out(v) for v in views]


@router.post(
    "/tenants/{tenant}/alerts/{alert_id}/acknowledge",
    response_model=AlertOut,
    summary="Acknowledge an alert",
)
def acknowledge_alert(
    *,
    tenant: TenantPath,
    alert_id: AlertIdPath,
    key: AckKey,
    alerts: Alerts,
    body: Annotated[HandlingIn | None, Body()] = None,
) -> AlertOut:
    """Mark one of the tenant's alerts as seen (operators and admins), optionally with a note;
    a repeat changes nothing. Escalation stops once an alert is acknowledged."""
    with _store_errors():
        view = alerts.acknowledge(key.tenant, alert_id, key.id, note=body.note if body else "")
    return _out(view)


@router.post(
    "/tenants/{tenant}/alerts/{alert_id}/resolve",
    response_model=AlertOut,
    summary="Resolve an alert with a note",
)
def resolve_alert(
    *, tenant: TenantPath, alert_id: AlertIdPath, key: AckKey, alerts: Alerts, body: HandlingIn
) -> AlertOut:
    """Mark one of the tenant's alerts as dealt with (operators and admins), saying what was
    done; it leaves the open and acknowledged lists. A repeat changes nothing."""
    with _store_errors():
        view = alerts.resolve(key.tenant, alert_id, key.id, note=body.note)
    return _out(view)
