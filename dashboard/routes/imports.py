"""CSV import (operators; with a dry run) and export (readers) of the registry and records."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

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
from dashboard.errors import InvalidRequestError
from dashboard.routes.records import DEFAULT_SPAN
from dashboard.schemas import (
    AUTHENTICATED,
    ImportOut,
    RefusedRowOut,
    RowErrorOut,
    error_responses,
    invalid_responses,
)
from models.sites.csvio import Table, export_assets, export_records, import_csv
from storage.readings import check_range

router = APIRouter(
    prefix=API_PREFIX,
    tags=["registry CSV"],
    responses={**error_responses(*AUTHENTICATED), **invalid_responses()},
)
# A spreadsheet of 100,000 rows is a few MB; more is not a registry.
MAX_BODY_BYTES = 16 * 1024 * 1024
_CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "the CSV file (UTF-8, with or without BOM, or Shift_JIS from Excel)",
    }
}
_CSV_ANSWER: dict[int | str, dict[str, object]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "the CSV"}
}


def _text(raw: bytes) -> str:
    """The file's text: UTF-8 (a spreadsheet's BOM dropped) or Shift_JIS (Excel in Japan)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp932")
    except UnicodeDecodeError as exc:
        raise InvalidRequestError("the file is neither UTF-8 nor Shift_JIS text") from exc


@router.post(
    "/tenants/{tenant}/imports/{what}",
    response_model=ImportOut,
    openapi_extra=_CSV_BODY,
    summary="Import a CSV file",
)
async def import_table(
    tenant: TenantPath,
    what: Table,
    *,
    request: Request,
    key: AssetsOperator,
    registry: Registry,
    dry_run: Annotated[
        bool, Query(description="only check: list every row that would be refused, store none")
    ] = True,
) -> ImportOut:
    """Check every row; then (not a dry run) store the good rows in one write, list the others.

    Rows are numbered as a spreadsheet shows them: the header is row 1, the first data row 2.
    """
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise InvalidRequestError(f"the file is larger than {MAX_BODY_BYTES} bytes")
    text = _text(raw)
    # The checks and the write read the store: off the event loop.
    result = await run_in_threadpool(
        import_csv, registry, key.tenant, what, text, by=changed_by(key), dry_run=dry_run
    )
    return ImportOut(
        dry_run=result.dry_run,
        stored=result.stored,
        valid=result.valid,
        refused=[
            RefusedRowOut(
                row=r.row, errors=[RowErrorOut(field=e.field, en=e.en, ja=e.ja) for e in r.errors]
            )
            for r in result.refused
        ],
    )


@router.get(
    "/tenants/{tenant}/exports/registry/{what}.csv",
    response_class=Response,
    responses=_CSV_ANSWER,
    summary="Export the registry or records as CSV",
)
def export_table(
    *,
    tenant: TenantPath,
    what: Table,
    key: ReadKey,
    registry: Registry,
    site: Annotated[list[str] | None, Query(description="repeat for several; default: all")] = None,
    start: StartQuery = None,
    end: EndQuery = None,
) -> Response:
    """The entries in force (or the records in [start, end)) as CSV that an import reads back."""
    sites = sorted({valid_id(s, "site") for s in site or []})
    if what is Table.RECORDS:
        start_ms, end_ms = time_range(start, end, DEFAULT_SPAN)
        check_range(start_ms, end_ms)
        records = registry.records(
            key.tenant, sites=sites, start_ms=start_ms, end_ms=end_ms, include_void=True
        )
        body = export_records(records)
    else:
        body = export_assets(registry, key.tenant, what, sites)
    return Response(
        body.encode(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{what.value}.csv"',
            "Cache-Control": "private, no-cache",
        },
    )
