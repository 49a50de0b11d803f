"""Research exports: a metadata document and streamed CSV or Parquet of a tenant's readings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse

from core.time import from_ms, iso_utc
from dashboard.auth import allowed_sites
from dashboard.context import AppContext
from dashboard.deps import API_PREFIX, Context, ExportKey, Registry, TenantPath, to_ms, valid_id
from dashboard.keys import ApiKey, Role
from dashboard.schemas import (
    AUTHENTICATED,
    ColumnMeta,
    DatasetMetadata,
    KindMeta,
    SeriesMeta,
    error_responses,
)
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


def _selection(
    key: ApiKey,
    start: dt.datetime,
    end: dt.datetime,
    sites: list[str] | None,
    kinds: list[SensorKind] | None,
) -> Selection:
    chosen = allowed_sites(key, sorted({valid_id(s, "site") for s in sites or []}))
    start_ms, end_ms = to_ms(start), to_ms(end)
    check_range(start_ms, end_ms)
    return Selection(key.tenant, chosen, sorted(set(kinds or SensorKind)), start_ms, end_ms)


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


def _metadata(context: AppContext, selection: Selection) -> DatasetMetadata:
    settings = context.settings
    publication = Publication(settings.dataset_title, settings.publisher, settings.licence)
    description = describe(context.reader, selection, publication)
    return DatasetMetadata(
        title=settings.dataset_title,
        dataset_id=selection.dataset_id,
        tenant=selection.tenant,
        publisher=settings.publisher,
        licence=settings.licence,
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
    """Units, sensor kinds, series with their sampling interval, licence and a stable citation."""
    return _metadata(context, _selection(key, start, end, sites, kinds))


def _rows(context: AppContext, selection: Selection, fmt: str) -> Iterator[ExportBatch]:
    batches = context.reader.export(
        selection.tenant,
        sites=selection.sites,
        kinds=selection.kinds,
        start_ms=selection.start_ms,
        end_ms=selection.end_ms,
        window_rows=context.settings.export_window_rows,
    )
    counter = context.metrics.export_rows.labels(fmt)
    # The store already answers the next window while this one is encoded and sent.
    for batch in batches:
        counter.inc(len(batch))
        yield batch


def _stream(
    context: AppContext, selection: Selection, fmt: str, media_type: str
) -> StreamingResponse:
    rows = _rows(context, selection, fmt)
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
    tenant: TenantPath,
    key: ExportKey,
    context: Context,
    start: StartRequired,
    end: EndRequired,
    sites: SitesQuery = None,
    kinds: KindsQuery = None,
) -> StreamingResponse:
    """Every reading of the selection as CSV, ordered by time; memory stays flat."""
    return _stream(context, _selection(key, start, end, sites, kinds), "csv", "text/csv")


@router.get(
    "/tenants/{tenant}/exports/readings.parquet",
    response_class=StreamingResponse,
    responses=_export_doc("application/vnd.apache.parquet", {"type": "string", "format": "binary"}),
    summary="Export readings as Parquet",
)
def export_parquet(
    *,
    tenant: TenantPath,
    key: ExportKey,
    context: Context,
    start: StartRequired,
    end: EndRequired,
    sites: SitesQuery = None,
    kinds: KindsQuery = None,
) -> StreamingResponse:
    """Every reading of the selection as one Parquet file, a row group per store window."""
    selection = _selection(key, start, end, sites, kinds)
    return _stream(context, selection, "parquet", "application/vnd.apache.parquet")


@router.get(
    "/tenants/{tenant}/exports/records.csv",
    response_class=Response,
    responses=_export_doc("text/csv", {"type": "string"}),
    summary="Export work records as CSV",
)
def export_records_csv(
    *,
    tenant: TenantPath,
    key: ExportKey,
    registry: Registry,
    start: StartRequired,
    end: EndRequired,
    sites: SitesQuery = None,
) -> Response:
    """The work records of the selection's sites dated in [start, end), voided ones marked.

    Columns: site, asset, kind, at, quantity, unit, grade, product, note, record (its id), by,
    entered, voided_by, voided (docs/registry.md).
    """
    chosen = allowed_sites(key, sorted({valid_id(s, "site") for s in sites or []}))
    start_ms, end_ms = to_ms(start), to_ms(end)
    check_range(start_ms, end_ms)
    if key.role is Role.RESEARCHER and not chosen:
        records = []  # nothing is shared with this key
    else:
        records = registry.records(
            key.tenant, sites=chosen, start_ms=start_ms, end_ms=end_ms, include_void=True
        )
    return Response(
        export_records(records).encode(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="shinshu-records.csv"',
            "Cache-Control": "private, no-cache",
        },
    )
