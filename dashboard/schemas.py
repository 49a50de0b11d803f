"""Response and request bodies; every time on the wire is ISO 8601 in UTC."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dashboard.keys import Role
from edge.protocol import SensorKind
from models.stock.quantity import Basis as QuantityBasis
from storage.assets import AssetKind, Change, SiteKind
from storage.readings import AggregateFunction, Interval
from storage.records import RecordKind


class ErrorBody(BaseModel):
    """Every error answer: a human-readable reason."""

    detail: str = Field(description="why the request was refused")


_REASONS = {
    400: "the request is well-formed but cannot be answered (time range, cursor, bucket count)",
    401: "no API key, or an unknown or revoked one",
    403: "the key's tenant or role does not allow this",
    404: "the tenant has no such site, device, sensor or key",
    409: "it exists already (a device registered under that name)",
    422: "the body is not acceptable; the detail says which field and why",
    429: "the key's rate budget is spent; see Retry-After",
    503: "the store or the MQTT broker did not answer; retry later",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI documentation of the error answers a route can give."""
    out: dict[int | str, dict[str, object]] = {}
    for code in codes:
        doc: dict[str, object] = {"model": ErrorBody, "description": _REASONS[code]}
        if code == 429:
            doc["headers"] = {
                "Retry-After": {
                    "description": "seconds to wait before the next request",
                    "schema": {"type": "integer"},
                }
            }
        out[code] = doc
    return out


AUTHENTICATED = (400, 401, 403, 404, 429, 503)


class SensorOut(BaseModel):
    """A sensor channel of a device."""

    sensor: str
    kind: SensorKind
    unit: str = Field(description="canonical unit of the kind; every value is in it")
    last_seen: dt.datetime | None = Field(description="time of the newest stored reading")


class DeviceOut(BaseModel):
    """A device with its live status; fields not known yet are null."""

    site: str
    device: str
    last_seen: dt.datetime | None = Field(description="newest reading of any of its sensors")
    online: bool | None = Field(
        None,
        description="from the device's status messages (its last will says offline); "
        "null if it never sent one",
    )
    spool_depth: int | None = Field(
        None, ge=0, description="readings waiting in the device's spool, from its status"
    )
    dropped_readings: int | None = Field(
        None, ge=0, description="readings its full spool dropped (oldest first), from its status"
    )
    status_at: dt.datetime | None = Field(
        None, description="when ingest received the device's latest status message"
    )
    sensors: list[SensorOut]


class SiteOut(BaseModel):
    """A site of the tenant: with readings, registered, or both (then null fields are unknown)."""

    site: str
    devices: int = Field(ge=0)
    last_seen: dt.datetime | None
    registered: bool = Field(False, description="whether the asset registry describes the site")
    kind: SiteKind | None = Field(None, description="farm, forest or factory, if registered")
    name_ja: str | None = None
    name_en: str | None = None
    municipality: str | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    altitude_m: float | None = None


class ReadingOut(BaseModel):
    """One stored reading."""

    time: dt.datetime
    value: float


class ReadingsPage(BaseModel):
    """A page of one sensor's readings, oldest first."""

    site: str
    device: str
    sensor: str
    kind: SensorKind
    unit: str
    items: list[ReadingOut]
    next_cursor: str | None = Field(
        description="pass as `cursor` (same start/end) for the next page; null on the last page"
    )


class BucketOut(BaseModel):
    """One time bucket; a function not asked for is null. Empty buckets are left out."""

    time: dt.datetime = Field(description="start of the bucket")
    mean: float | None = None
    min: float | None = None
    max: float | None = None
    count: int | None = Field(None, ge=0)


class AggregatesOut(BaseModel):
    """Aggregates of one sensor over time buckets, computed by the store."""

    site: str
    device: str
    sensor: str
    kind: SensorKind
    unit: str
    interval: Interval
    functions: list[AggregateFunction]
    start: dt.datetime
    end: dt.datetime
    buckets: list[BucketOut]


class SeriesMeta(BaseModel):
    """A series in an export."""

    site: str
    device: str
    sensor: str
    kind: SensorKind
    unit: str
    sampling_interval_s: float | None = Field(
        description="spacing of the first two readings in the range; null if fewer"
    )


class KindMeta(BaseModel):
    """A sensor kind in an export."""

    kind: SensorKind
    unit: str
    description: str


class ColumnMeta(BaseModel):
    """A column of the exported table."""

    name: str
    description: str


class DatasetMetadata(BaseModel):
    """What an export holds, under what licence, and how to cite it."""

    title: str
    dataset_id: str = Field(description="stable id of this selection (tenant, sites, kinds, range)")
    tenant: str
    publisher: str
    licence: str
    citation: str = Field(description="stable citation string for this selection")
    start: dt.datetime
    end: dt.datetime
    sites: list[str]
    kinds: list[KindMeta]
    series: list[SeriesMeta]
    columns: list[ColumnMeta]
    formats: list[str]
    jsonld: dict[str, Any] = Field(
        default_factory=dict,
        description="the same as a DCAT dcat:Dataset with DataCite properties (JSON-LD); its "
        "distributions are the download paths, without size or checksum (they are streamed)",
    )


# --- Quantity confirmation (数量確認) of factory bins: book, measured and counted stock -----
# (the stock-out schemas live beside their route in dashboard/routes/stock.py)


class RecordRef(BaseModel):
    """The work record a point or a book stock is taken from."""

    record: str = Field(description="the record's id")
    kind: RecordKind
    at: dt.datetime
    quantity: float | None = Field(description="items (counted, booked, delivered or withdrawn)")


class QuantityPointOut(BaseModel):
    """A bin's stock at one time, in items; what cannot be known then is null."""

    time: dt.datetime
    book: float | None = Field(
        description="book stock: the last stocktake or imported book stock, plus deliveries "
        "and minus withdrawals since"
    )
    measured: float | None = Field(
        description="measured stock: (weight − tare) ÷ unit weight, else the item counter"
    )
    basis: QuantityBasis | None = Field(description="which sensor `measured` comes from")
    weight_kg: float | None = Field(description="the load-cell reading used (kg)")
    weight_at: dt.datetime | None = Field(description="when that reading was taken")
    counter: float | None = Field(description="the item-counter reading used")
    counter_at: dt.datetime | None = Field(description="when that reading was taken")
    counted: float | None = Field(description="the counted quantity, at a stocktake")
    discrepancy: float | None = Field(
        description="book − measured (counted − measured at a stocktake)"
    )
    counter_discrepancy: float | None = Field(description="book − the item counter")
    over_tolerance: bool = Field(description="|discrepancy| is beyond the bin's tolerance")
    record: RecordRef | None = Field(description="the record at this time, if the point is one")


class QuantityAlertOut(BaseModel):
    """A stored discrepancy alert of the bin (kind `quantity_discrepancy`)."""

    id: str = Field(description="the alert's id, as the alert list shows it")
    raised_at: dt.datetime = Field(description="time of the stocktake or book stock it concerns")
    last_seen_at: dt.datetime = Field(description="time of the newest point beyond tolerance")
    reason: str = Field(description="as stored: English, then Japanese")
    reason_en: str
    reason_ja: str


class BinQuantityOut(BaseModel):
    """A bin's quantity confirmation at `as_of`: book, measured, last stocktake, discrepancy."""

    site: str
    bin: str
    device: str
    item: str
    unit_kg: float = Field(description="weight of one item (kg)")
    tare_kg: float = Field(description="weight of the empty bin (kg)")
    capacity: int
    tolerance: float = Field(description="items of discrepancy the bin tolerates")
    tolerance_default: bool = Field(
        description="the bin sets no tolerance: 2 % of capacity, at least 1 item"
    )
    as_of: dt.datetime
    now: QuantityPointOut = Field(description="the quantities at `as_of`")
    opening: RecordRef | None = Field(description="the record the book stock is kept from")
    last_stocktake: QuantityPointOut | None = Field(description="the newest stocktake")
    over_tolerance: bool = Field(description="beyond tolerance at `as_of` or at the stocktake")
    alerts: list[QuantityAlertOut] = Field(description="discrepancy alerts raised or confirmed")


class BinQuantityHistoryOut(BinQuantityOut):
    """The same over a time range: a point at every record and every hour."""

    start: dt.datetime
    end: dt.datetime
    step_s: int = Field(description="seconds between regular points (UTC hours)")
    points: list[QuantityPointOut]


class KeyOut(BaseModel):
    """An API key without its secret."""

    id: str
    tenant: str
    role: Role
    sites: list[str]
    name: str
    created: dt.datetime
    revoked: dt.datetime | None


class KeyCreated(KeyOut):
    """A new key; `token` is shown only in this answer and is never stored."""

    token: str


class KeyCreate(BaseModel):
    """What a new key may do."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    name: str = Field("", max_length=200)
    sites: list[str] = Field(
        default_factory=list, max_length=1000, description="researcher keys only"
    )


class DeviceRegister(BaseModel):
    """A device to register: it gets its own broker account."""

    model_config = ConfigDict(extra="forbid")

    site: str = Field(min_length=1, max_length=128)
    device: str = Field(min_length=1, max_length=128)
    name: str = Field("", max_length=200, description="what or where the device is")


class DeviceEvent(BaseModel):
    """A change to a device's registration: who and when."""

    at: dt.datetime
    actor: str
    action: str


class DeviceAccountOut(BaseModel):
    """A registered device and its broker account, never its secret."""

    tenant: str
    site: str
    device: str
    name: str
    username: str = Field(description="MQTT username; also the only client id it may use")
    client_id: str
    active: bool
    created: dt.datetime
    rotated: dt.datetime | None
    revoked: dt.datetime | None
    history: list[DeviceEvent] = Field(default_factory=list)


class DeviceCredentials(DeviceAccountOut):
    """A new or rotated device account; `secret` is in this answer only and never stored."""

    secret: str = Field(description="the broker password; put it in the agent's secret file")


class DeviceConfigIn(BaseModel):
    """A remote configuration: sampling intervals and enablement per sensor name."""

    model_config = ConfigDict(extra="forbid")

    rev: int = Field(0, ge=0, description="a revision number the device reports back")
    sensors: dict[str, dict[str, float | bool]] = Field(
        default_factory=dict,
        max_length=1000,
        description='e.g. {"air": {"interval_s": 30, "enabled": true}}',
    )


class DeviceConfigOut(BaseModel):
    """A configuration now retained on the device's config topic."""

    topic: str
    rev: int
    sensors: dict[str, dict[str, float | bool]]


# The asset registry and work records. The bodies take plain types and leave the checks of
# values (ranges, dates, ids) to the registry's own validation, which answers in English and
# Japanese; a 422 then lists every field at fault, not only the first.

_TEXT = Field("", max_length=200)
_IDS = Field(default_factory=list, max_length=100)


class BilingualError(BaseModel):
    """One field at fault, in English and Japanese."""

    loc: list[str | int] = Field(description='where: ["body", field] or ["query", name], …')
    msg: str = Field(description="why, in English")
    msg_ja: str = Field(description="why, in Japanese")
    type: str


class BilingualErrorBody(BaseModel):
    """A refused body or parameter: every field at fault (FastAPI's shape, plus `msg_ja`)."""

    detail: list[BilingualError]


def invalid_responses() -> dict[int | str, dict[str, object]]:
    """OpenAPI documentation of a 422 with bilingual reasons."""
    return {
        422: {
            "model": BilingualErrorBody,
            "description": "a field is not acceptable; each entry says which and why (en, ja)",
        }
    }


class SiteChange(BaseModel):
    """What a site is and where (its id is in the path)."""

    model_config = ConfigDict(extra="forbid")

    kind: SiteKind
    name_ja: str = _TEXT
    name_en: str = _TEXT
    latitude: float = Field(description="degrees north, -90 to 90")
    longitude: float = Field(description="degrees east, -180 to 180")
    altitude_m: float = Field(description="elevation in metres above sea level")
    municipality: str = _TEXT


class SiteIn(SiteChange):
    """A site to register."""

    site: str = Field(max_length=128)


class SiteEntry(SiteIn):
    """A registered site."""


class FieldChange(BaseModel):
    """A farm field (its site and id are in the path)."""

    model_config = ConfigDict(extra="forbid")

    crop: str = Field(max_length=128, description="lettuce, rice, apple, or another crop id")
    area_ha: float = Field(description="hectares, > 0")
    device: str = Field("", max_length=128, description='the device of the site measuring it; ""')
    sensors: list[str] = Field(
        default_factory=list, max_length=100, description="its channels; none: all of them"
    )
    variety: str = _TEXT
    plantings: list[str] = Field(
        default_factory=list, max_length=100, description="planting date of each season (ISO)"
    )
    expected_harvests: list[str] = Field(
        default_factory=list,
        max_length=100,
        description='the expected harvest of the same season (ISO date, or "")',
    )
    name: str = _TEXT


class FieldIn(FieldChange):
    """A field to register at the path's site."""

    asset: str = Field(max_length=128)


class FieldEntry(FieldIn):
    """A registered field."""

    site: str


class StandChange(BaseModel):
    """A forest stand (its site and id are in the path)."""

    model_config = ConfigDict(extra="forbid")

    species: str = Field(max_length=64, description="larch or sugi")
    area_ha: float = Field(description="hectares, > 0")
    age_years: float = Field(description="age in years on `age_on`")
    age_on: str = Field(max_length=10, description="ISO date of the age and the inventory")
    device: str = Field("", max_length=128)
    sensors: list[str] = _IDS
    trees_per_ha: float | None = None
    volume_m3_ha: float | None = Field(None, description="stand volume on `age_on`")
    dbh_cm: float | None = Field(None, description="mean diameter at breast height on `age_on`")
    planting_year: int | None = None
    site_index_m: float | None = None
    name: str = _TEXT


class StandIn(StandChange):
    """A stand to register at the path's site."""

    asset: str = Field(max_length=128)


class StandEntry(StandIn):
    """A registered stand."""

    site: str


class BinChange(BaseModel):
    """A factory bin (its site and id are in the path)."""

    model_config = ConfigDict(extra="forbid")

    item: str = Field(max_length=200)
    unit_kg: float = Field(description="weight of one item in kg, > 0")
    capacity: int = Field(description="items the bin holds, > 0")
    lead_time_h: float = Field(description="hours from order to delivery, >= 0")
    device: str = Field("", max_length=128)
    weight_sensor: str = Field("", max_length=128, description="the load cell channel")
    count_sensor: str = Field("", max_length=128, description="the item counter channel")
    reorder_point: int | None = Field(None, description="items; within the capacity")
    tare_kg: float = Field(0.0, description="the empty bin's weight in kg, >= 0")
    supplier: str = _TEXT
    tolerance: int | None = Field(
        None, description="items of difference between book or count and measured that alert"
    )


class BinIn(BinChange):
    """A bin to register at the path's site."""

    asset: str = Field(max_length=128)


class BinEntry(BinIn):
    """A registered bin."""

    site: str


class RegistryOut(BaseModel):
    """Every entry in force."""

    sites: list[SiteEntry]
    fields: list[FieldEntry]
    stands: list[StandEntry]
    bins: list[BinEntry]


class VersionOut(BaseModel):
    """One version of an entry: when, by whom, what it did and what it said."""

    at: dt.datetime
    by: str
    change: Change
    kind: AssetKind
    entry: SiteEntry | FieldEntry | StandEntry | BinEntry


class AttachmentOut(BaseModel):
    """A device (and its channels; none: all) measuring the entry from `from` until `to`."""

    model_config = ConfigDict(populate_by_name=True)

    device: str
    sensors: list[str]
    from_: dt.datetime = Field(alias="from")
    to: dt.datetime | None = Field(description="null: still attached")


class HistoryOut(BaseModel):
    """Every version of an entry, oldest first, and which device measured it when."""

    versions: list[VersionOut]
    attachments: list[AttachmentOut]


class WorkRecordIn(BaseModel):
    """A piece of work on a field, stand or bin."""

    model_config = ConfigDict(extra="forbid")

    site: str = Field(max_length=128)
    asset: str = Field(max_length=128)
    kind: RecordKind
    at: str = Field(
        max_length=40,
        description="ISO date (taken as noon in Japan) or datetime (UTC if no offset)",
    )
    quantity: float | None = Field(
        None,
        description="kg of a harvest; m3 of thinning, felling, inventory; items of deliveries, "
        "withdrawals, stocktakes and book stock; required for those",
    )
    unit: str = Field("", max_length=32, description="default: the kind's unit")
    grade: str = _TEXT
    product: str = _TEXT
    note: str = Field("", max_length=2000)


class WorkRecordOut(BaseModel):
    """A stored work record with who entered it and, if voided, who voided it."""

    record: str
    site: str
    asset: str
    kind: RecordKind
    at: dt.datetime
    quantity: float | None
    unit: str
    grade: str
    product: str
    note: str
    by: str
    entered: dt.datetime | None
    voided: bool
    voided_by: str
    voided_at: dt.datetime | None


class RowErrorOut(BaseModel):
    """One reason a row was refused."""

    field: str
    en: str
    ja: str


class RefusedRowOut(BaseModel):
    """A refused row: its number as a spreadsheet shows it (the header is row 1)."""

    row: int = Field(ge=1)
    errors: list[RowErrorOut]


class ImportOut(BaseModel):
    """What an import stored (none on a dry run) and every row it refused."""

    dry_run: bool
    stored: int = Field(ge=0)
    valid: int = Field(ge=0, description="rows without a problem (stored unless a dry run)")
    refused: list[RefusedRowOut]
