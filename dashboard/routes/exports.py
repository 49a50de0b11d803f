"""Research exports: a metadata document and streamed CSV or Parquet of a tenant's readings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from core.time import from_ms, iso_utc
from dashboard.context import AppContext
from dashboard.deps import API_PREFIX, Context, ExportKey, Registry, TenantPath, to_ms, valid_id
from dashboard.keys import ApiKey
from dashboard.schemas import (
    AUTHENTICATED,
    ColumnMeta,
    DatasetMetadata,
    KindMeta,
    SeriesMeta,
    error_responses,
)
from dashboard.scopes import Scope, export_scope, log_download
from edge.protocol import SensorKind
from models.sites.csvio import export_records
from storage.export.encoding import COLUMN_DOCS, csv_chunks, parquet_chunks
from storage.export.jsonld import MEDIA_TYPES, Distribution, dataset_jsonld
from storage.export.provenance import site_places, with_provenance
from storage.export.selection import Publication, Selection, describe
from storage.exportwindow import ExportBatch
from storage.readings import check_range

router = APIRouter(
    prefix=API_PREFIX, tags=["research exports"], responses=error_responses(*AUTHENTICATED)
)

StartRequired = Annotated[dt.datetime, Query(description="inclusive start, ISO 8601 (UTC)")]
EndRequired = Annotated[dt.datetime, Query(description="exclusive end, ISO 8601 (UTC)")]
SitesQuery = Annotated[
    list[str] | None,
    Query(alias="site", description="repeat for several; default: every site shared with the key"),
]
KindsQuery = Annotated[
    list[SensorKind] | None, Query(alias="kind", description="repeat for several; default: all")
]


@dataclass(frozen=True)
class Asked:
    """What one export request asks for, as its query gives it."""

    tenant: str
    start: dt.datetime
    end: dt.datetime
    sites: list[str] | None
    kinds: list[SensorKind] | None = None


def _selection(context: AppContext, key: ApiKey, asked: Asked) -> tuple[Selection, Scope]:
    """The selection the key may export, and the scope (and grants) that allow it."""
    scope = export_scope(key, asked.tenant, context.grants)
    chosen = scope.choose(sorted({valid_id(s, "site") for s in asked.sites or []}))
    start_ms, end_ms = to_ms(asked.start), to_ms(asked.end)
    check_range(start_ms, end_ms)
    kinds = sorted(set(asked.kinds or SensorKind))
    return Selection(asked.tenant, chosen, kinds, start_ms, end_ms), scope


def _download_url(selection: Selection, fmt: str) -> str:
    """The API path that streams the selection in `fmt`."""
    query = urlencode(
        {
            "start": iso_utc(selection.start_ms),
            "end": iso_utc(selection.end_ms),
            "site": selection.sites,
            "kind": [k.value for k in selection.kinds],
        },
        doseq=True,
    )
    return f"{API_PREFIX}/tenants/{selection.tenant}/exports/readings.{fmt}?{query}"


def _metadata(context: AppContext, selection: Selection, scope: Scope) -> DatasetMetadata:
    settings = context.settings
    licence = scope.licence(selection.sites, settings.licence)
    publication = Publication(settings.dataset_title, settings.publisher, licence)
    description = describe(context.reader, selection, publication)
    return DatasetMetadata(
        title=settings.dataset_title,
        dataset_id=selection.dataset_id,
        tenant=selection.tenant,
        publisher=settings.publisher,
        licence=licence,
        citation=description.citation,
        start=from_ms(selection.start_ms),
        end=from_ms(selection.end_ms),
        sites=description.sites,
        kinds=[
            KindMeta(kind=k, unit=k.unit.value, description=k.spec.description)
            for k in description.kinds
        ],
        series=[
            SeriesMeta(
                site=k.site,
                device=k.device,
                sensor=k.sensor,
                kind=k.kind,
                unit=k.kind.unit.value,
                sampling_interval_s=None if gap is None else gap / 1000,
            )
            for k, gap in description.spacing.items()
        ],
        columns=[ColumnMeta(name=n, description=d) for n, d in COLUMN_DOCS.items()],
        formats=["text/csv", "application/vnd.apache.parquet"],
        jsonld=dataset_jsonld(
            description,
            site_places(context.assets.registry(selection.tenant), description.sites),
            [
                Distribution(f"readings.{fmt}", MEDIA_TYPES[fmt], url=_download_url(selection, fmt))
                for fmt in MEDIA_TYPES
            ],
        ),
    )


@router.get(
    "/tenants/{tenant}/exports/metadata",
    response_model=DatasetMetadata,
    summary="Metadata and citation of an export",
)
def export_metadata(
    *,
    tenant: TenantPath,
    key: ExportKey,
    context: Context,
    start: StartRequired,
    end: EndRequired,
    sites: SitesQuery = None,
    kinds: KindsQuery = None,
) -> DatasetMetadata:
    """Units, sensor kinds, series with their sampling interval, licence and a stable citation.

    A researcher account's export carries the licence of the grant that shares the sites."""
    selection, scope = _selection(context, key, Asked(tenant, start, end, sites, kinds))
    return _metadata(context, selection, scope)


@dataclass(frozen=True)
class Taker:
    """Who takes an export, for the download log: the key, its scope, the request's path."""

    key: ApiKey
    scope: Scope
    what: str


def _what(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def _rows(
    context: AppContext, selection: Selection, fmt: str, taker: Taker
) -> Iterator[ExportBatch]:
    batches = context.reader.export(
        selection.tenant,
        sites=selection.sites,
        kinds=selection.kinds,
        start_ms=selection.start_ms,
        end_ms=selection.end_ms,
        window_rows=context.settings.export_window_rows,
    )
    counter = context.metrics.export_rows.labels(fmt)
    sent = 0
    try:
        # The store already answers the next window while this one is encoded and sent.
        for batch in batches:
            counter.inc(len(batch))
            sent += len(batch)
            yield batch
    finally:
        # Logged when the download ends (or is cut off), with the rows it carried.
        grants = context.grants
        log_download(grants, taker.key, taker.scope, channel="export", what=taker.what, items=sent)


def _stream(context: AppContext, selection: Selection, fmt: str, taker: Taker) -> StreamingResponse:
    media_type = MEDIA_TYPES[fmt]
    rows = _rows(context, selection, fmt, taker)
    # The first window is read before answering, so that a store error is still an HTTP error.
    first = next(rows, None)
    places = site_places(context.assets.registry(selection.tenant), selection.sites)
    batches = with_provenance(_chain(first, rows), places)
    chunks = csv_chunks(batches) if fmt == "csv" else parquet_chunks(batches)
    filename = f"shinshu-{selection.dataset_id}.{fmt}"
    return StreamingResponse(
        chunks,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Dataset-Id": selection.dataset_id,
            # Kept by no shared cache and revalidated every time. Not `no-store`: Chromium then
            # aborts a streamed download at its end, although every byte arrived.
            "Cache-Control": "private, no-cache",
        },
    )


def _chain(first: ExportBatch | None, rest: Iterator[ExportBatch]) -> Iterator[ExportBatch]:
    if first is None:
        return
    yield first
    yield from rest


def _export_doc(media_type: str, schema: dict[str, str]) -> dict[int | str, dict[str, object]]:
    return {
        200: {
            "content": {media_type: {"schema": schema}},
            "description": "the readings, streamed; see the metadata endpoint for the columns",
        }
    }


@router.get(
    "/tenants/{tenant}/exports/readings.csv",
    response_class=StreamingResponse,
    responses=_export_doc("text/csv", {"type": "string"}),
    summary="Export readings as CSV",
)
def export_csv(
    *,
    request: Request,
    tenant: TenantPath,
    key: ExportKey,
    context: Context,
    start: StartRequired,
    end: EndRequired,
    sites: SitesQuery = None,
    kinds: KindsQuery = None,
) -> StreamingResponse:
    """Every reading of the selection as CSV, ordered by time; memory stays flat."""
    selection, scope = _selection(context, key, Asked(tenant, start, end, sites, kinds))
    return _stream(context, selection, "csv", Taker(key, scope, _what(request)))


@router.get(
    "/tenants/{tenant}/exports/readings.parquet",
    response_class=StreamingResponse,
    responses=_export_doc("application/vnd.apache.parquet", {"type": "string", "format": "binary"}),
    summary="Export readings as Parquet",
)
def export_parquet(
    *,
    request: Request,
    tenant: TenantPath,
    key: ExportKey,
    context: Context,
    start: StartRequired,
    end: EndRequired,
    sites: SitesQuery = None,
    kinds: KindsQuery = None,
) -> StreamingResponse:
    """Every reading of the selection as one Parquet file, a row group per store window."""
    selection, scope = _selection(context, key, Asked(tenant, start, end, sites, kinds))
    return _stream(context, selection, "parquet", Taker(key, scope, _what(request)))


@router.get(
    "/tenants/{tenant}/exports/records.csv",
    response_class=Response,
    responses=_export_doc("text/csv", {"type": "string"}),
    summary="Export work records as CSV",
)
def export_records_csv(
    *,
    request: Request,
    tenant: TenantPath,
    key: ExportKey,
    context: Context,
    registry: Registry,
    start: StartRequired,
    end: EndRequired,
    sites: SitesQuery = None,
) -> Response:
    """The work records of the selection's sites dated in [start, end), voided ones marked.

    Columns: site, asset, kind, at, quantity, unit, grade, product, note, record (its id), by,
    entered, voided_by, voided (docs/registry.md).
    """
    selection, scope = _selection(context, key, Asked(tenant, start, end, sites))
    # No sites means every site to the registry: a scope of sites must never ask for that.
    limited = scope.sites is not None and not selection.sites
    records = (
        []
        if limited
        else registry.records(
            tenant,
            sites=selection.sites,
            start_ms=selection.start_ms,
            end_ms=selection.end_ms,
            include_void=True,
        )
    )
    log_download(
        context.grants, key, scope, channel="export", what=_what(request), items=len(records)
    )
    return Response(
        export_records(records).encode(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="shinshu-records.csv"',
            "Cache-Control": "private, no-cache",
        },
    )
