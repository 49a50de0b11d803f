"""Work records (作業記録): listed by anyone who reads, entered and voided by operators."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, status

from core.time import from_ms
from dashboard.deps import (
    API_PREFIX,
    AssetsOperator,
    EndQuery,
    ReadKey,
    Registry,
    StartQuery,
    TenantPath,
    changed_by,
    time_range,
    valid_id,
)
from dashboard.schemas import (
    AUTHENTICATED,
    WorkRecordIn,
    WorkRecordOut,
    error_responses,
    invalid_responses,
)
from models.sites.service import RegistryInvalid
from models.sites.validation import FieldError, parse_at
from storage.readings import check_range
from storage.records import RecordKind, WorkRecord

router = APIRouter(
    prefix=API_PREFIX,
    tags=["work records"],
    responses={**error_responses(*AUTHENTICATED), **invalid_responses()},
)
# Without a start, a listing covers the year before its end.
DEFAULT_SPAN = dt.timedelta(days=366)


def record_out(record: WorkRecord) -> WorkRecordOut:
    """The wire form of a record."""
    return WorkRecordOut(
        record=record.record,
        site=record.site,
        asset=record.asset,
        kind=record.kind,
        at=from_ms(record.at_ms),
        quantity=record.quantity,
        unit=record.unit,
        grade=record.grade,
        product=record.product,
        note=record.note,
        by=record.by,
        entered=from_ms(record.entered_ms) if record.entered_ms else None,
        voided=record.voided,
        voided_by=record.voided_by,
        voided_at=from_ms(record.voided_ms) if record.voided_ms else None,
    )


@router.get("/tenants/{tenant}/records", response_model=list[WorkRecordOut], summary="Records")
def list_records(
    *,
    tenant: TenantPath,
    key: ReadKey,
    registry: Registry,
    site: Annotated[str | None, Query(description="only this site's records")] = None,
    asset: Annotated[str | None, Query(description="only this field's, stand's or bin's")] = None,
    kind: Annotated[list[RecordKind] | None, Query(description="repeat for several")] = None,
    start: StartQuery = None,
    end: EndQuery = None,
    include_void: Annotated[bool, Query(description="also the voided ones")] = False,
) -> list[WorkRecordOut]:
    """Records dated in [start, end) (default: the year before now), oldest first."""
    start_ms, end_ms = time_range(start, end, DEFAULT_SPAN)
    check_range(start_ms, end_ms)
    records = registry.records(
        key.tenant,
        sites=[valid_id(site, "site")] if site is not None else [],
        assets=[valid_id(asset, "asset")] if asset is not None else [],
        kinds=kind or [],
        start_ms=start_ms,
        end_ms=end_ms,
        include_void=include_void,
    )
    return [record_out(r) for r in records]


@router.post(
    "/tenants/{tenant}/records",
    response_model=WorkRecordOut,
    status_code=status.HTTP_201_CREATED,
    summary="Enter a record",
)
def add_record(
    tenant: TenantPath, body: WorkRecordIn, key: AssetsOperator, registry: Registry
) -> WorkRecordOut:
    """A piece of work on a registered field, stand or bin, stamped with who entered it."""
    try:
        at_ms = parse_at(body.at)
    except (ValueError, OverflowError) as exc:
        error = FieldError(
            0,
            "at",
            f"at must be an ISO date or datetime, got {body.at!r}",
            f"at は ISO 形式の日付か日時にしてください（{body.at!r}）",
        )
        raise RegistryInvalid([error]) from exc
    record = WorkRecord(
        site=body.site,
        asset=body.asset,
        kind=body.kind,
        at_ms=at_ms,
        quantity=body.quantity,
        unit=body.unit,
        grade=body.grade,
        product=body.product,
        note=body.note,
    )
    return record_out(registry.add_records(key.tenant, [record], by=changed_by(key))[0])


@router.delete(
    "/tenants/{tenant}/sites/{site}/records/{record}",
    response_model=WorkRecordOut,
    summary="Void a record",
)
def void_record(
    tenant: TenantPath, site: str, record: str, key: AssetsOperator, registry: Registry
) -> WorkRecordOut:
    """Withdraw a record: it stays in the store and in exports, marked void with who and when."""
    site, record = valid_id(site, "site"), valid_id(record, "record")
    return record_out(registry.void(key.tenant, site, record, by=changed_by(key)))
