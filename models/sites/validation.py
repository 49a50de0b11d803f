"""Field-level checks of registry entries and work records, each reason in English and Japanese.

Every check returns all the problems of an entry at once (a form shows them beside their
fields; an import lists them per row), never only the first. Nothing here reads the store:
whether an asset exists, or which kind it is, is handed in by the service.

Crops: the harvest model learns every crop it is given seasons of (one model per crop) and
gives a crop it has no agronomic window for the default window, so a crop outside the known
list (lettuce, rice, apple) is accepted as long as it is a usable id; it is forecast once
seasons of it are recorded. Species are a closed list: the growth model needs the yield-table
curve of the species (`models.forest.species.SPECIES`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.time import MS_PER_HOUR, day_number, day_start_ms
from edge.protocol import MAX_ID_CHARS, MIN_TIMESTAMP_MS, ProtocolError, check_id
from storage.assets import Asset, AssetKind, BinAsset, FieldAsset, SiteAsset, SiteKind, StandAsset
from storage.layout import SITE_ASSET
from storage.records import RecordKind, WorkRecord

MAX_TEXT = 200
MAX_NOTE = 2000
# Lowest and highest ground a site can be on (the Dead Sea shore; above Everest's summit).
MIN_ALTITUDE_M = -500.0
MAX_ALTITUDE_M = 9000.0
MAX_AREA_HA = 100_000.0
# A record may be dated a little ahead (a clock off, a time zone), not into next week.
FUTURE_SLACK_MS = 86_400_000

# The crops with an agronomic harvest window (models.harvest.predict.KnownCrop) and the species
# of the yield tables (models.forest.species.Species), named here rather than imported: those
# modules load numpy, scipy and scikit-learn, which the API and a command line do not need to
# check a form (tests/models/sites keep the lists equal).
KNOWN_CROPS: tuple[str, ...] = ("lettuce", "rice", "apple")
SPECIES: tuple[str, ...] = ("larch", "sugi")

# The registry kind each record kind is about.
RECORD_ASSET: dict[RecordKind, AssetKind] = {
    RecordKind.PLANTING: AssetKind.FIELD,
    RecordKind.FERTILISING: AssetKind.FIELD,
    RecordKind.SPRAYING: AssetKind.FIELD,
    RecordKind.IRRIGATION: AssetKind.FIELD,
    RecordKind.HARVEST: AssetKind.FIELD,
    RecordKind.INVENTORY: AssetKind.STAND,
    RecordKind.THINNING: AssetKind.STAND,
    RecordKind.FELLING: AssetKind.STAND,
    RecordKind.DELIVERY: AssetKind.BIN,
    RecordKind.WITHDRAWAL: AssetKind.BIN,
    RecordKind.STOCKTAKE: AssetKind.BIN,
    RecordKind.BOOK_STOCK: AssetKind.BIN,
}
# Record kinds whose quantity is what the record is for (the models read it).
QUANTITY_REQUIRED = frozenset(
    {
        RecordKind.HARVEST,
        RecordKind.INVENTORY,
        RecordKind.THINNING,
        RecordKind.FELLING,
        RecordKind.DELIVERY,
        RecordKind.WITHDRAWAL,
        RecordKind.STOCKTAKE,
        RecordKind.BOOK_STOCK,
    }
)
# The units the models read each kind's quantity in; the first is the default. Kinds not
# listed take any unit (e.g. a fertiliser in kg or l).
UNITS: dict[RecordKind, tuple[str, ...]] = {
    RecordKind.HARVEST: ("kg",),
    RecordKind.INVENTORY: ("m3",),
    RecordKind.THINNING: ("m3",),
    RecordKind.FELLING: ("m3",),
    RecordKind.DELIVERY: ("items",),
    RecordKind.WITHDRAWAL: ("items",),
    RecordKind.STOCKTAKE: ("items",),
    RecordKind.BOOK_STOCK: ("items",),
    RecordKind.IRRIGATION: ("mm", "m3"),
}

_KIND_JA = {
    AssetKind.SITE: "拠点",
    AssetKind.FIELD: "圃場",
    AssetKind.STAND: "林分",
    AssetKind.BIN: "部品棚",
}


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem of one entry: its position in the batch, the field, and why (en, ja)."""

    index: int
    field: str
    en: str
    ja: str


class _Errors:
    """Collects the problems of the entry at `index`."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.found: list[FieldError] = []

    def add(self, name: str, en: str, ja: str) -> None:
        self.found.append(FieldError(self.index, name, en, ja))

    def ident(self, name: str, value: object, *, optional: bool = False) -> None:
        """An id of a site, asset, device or sensor: usable as a topic level and a store tag."""
        if optional and value == "":
            return
        try:
            check_id(value, name)
        except ProtocolError as exc:
            self.add(name, str(exc), _id_ja(value))

    def text(
        self, name: str, value: object, *, limit: int = MAX_TEXT, required: bool = False
    ) -> None:
        if not isinstance(value, str):
            self.add(name, f"{name} must be text", f"{name} は文字列にしてください")
        elif required and not value.strip():
            self.add(name, f"{name} is required", f"{name} は必須です")
        elif len(value) > limit:
            self.add(
                name,
                f"{name} is longer than {limit} characters",
                f"{name} は{limit}文字以内にしてください",
            )

    def number(
        self,
        name: str,
        value: object,
        *,
        low: float | None = None,
        high: float | None = None,
        above: float | None = None,
        integer: bool = False,
        optional: bool = False,
    ) -> None:
        """A finite number within [low, high] and above `above` (strictly), if given."""
        if value is None:
            if not optional:
                self.add(name, f"{name} is required", f"{name} は必須です")
            return
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(name, f"{name} must be a number", f"{name} は数値にしてください")
            return
        if not math.isfinite(value):
            self.add(name, f"{name} must be a finite number", f"{name} は有限の数値にしてください")
            return
        if integer and value != int(value):
            self.add(name, f"{name} must be a whole number", f"{name} は整数にしてください")
        if above is not None and value <= above:
            self.add(
                name,
                f"{name} must be greater than {above:g}",
                f"{name} は{above:g}より大きくしてください",
            )
        if low is not None and value < low:
            self.add(
                name, f"{name} must be at least {low:g}", f"{name} は{low:g}以上にしてください"
            )
        if high is not None and value > high:
            self.add(
                name, f"{name} must be at most {high:g}", f"{name} は{high:g}以下にしてください"
            )

    def date(self, name: str, value: object) -> dt.date | None:
        """An ISO date (YYYY-MM-DD)."""
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        self.add(
            name,
            f"{name} must be an ISO date (YYYY-MM-DD), got {value!r}",
            f"{name} は YYYY-MM-DD 形式の日付にしてください（{value!r}）",
        )
        return None

    def choice(self, name: str, value: object, allowed: Sequence[str]) -> None:
        if value not in allowed:
            listed = ", ".join(allowed)
            self.add(
                name,
                f"{name} must be one of {listed}, got {value!r}",
                f"{name} は {listed} のいずれかにしてください（{value!r}）",
            )


def _id_ja(value: object) -> str:
    """The Japanese reason check_id would give for `value`."""
    if not isinstance(value, str):
        return "IDは文字列にしてください"
    if not value:
        return "IDが空です"
    if len(value) > MAX_ID_CHARS:
        return f"IDは{MAX_ID_CHARS}文字以内にしてください"
    for char in value:
        if char in "/+#":
            return f"IDに MQTT トピックの予約文字 {char!r} は使えません"
        if ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F or "\ud800" <= char <= "\udfff":
            return f"IDに制御文字 U+{ord(char):04X} は使えません"
    return "IDの末尾にバックスラッシュは使えません"


def _asset_id(errors: _Errors, value: object) -> None:
    errors.ident("asset", value)
    if value == SITE_ASSET:
        errors.add(
            "asset",
            f"{SITE_ASSET!r} is reserved for the site's own description",
            f"{SITE_ASSET!r} は拠点自体の記述に予約されています",
        )


def _sensors(errors: _Errors, values: Iterable[object]) -> None:
    for sensor in values:
        errors.ident("sensors", sensor)


def _site(errors: _Errors, asset: SiteAsset) -> None:
    errors.choice("kind", asset.kind, [k.value for k in SiteKind])
    errors.text("name_ja", asset.name_ja)
    errors.text("name_en", asset.name_en)
    if not (str(asset.name_ja).strip() or str(asset.name_en).strip()):
        errors.add(
            "name_ja",
            "a site needs a name in Japanese or English",
            "拠点名（日本語または英語）を入力してください",
        )
    errors.number("latitude", asset.latitude, low=-90, high=90)
    errors.number("longitude", asset.longitude, low=-180, high=180)
    errors.number("altitude_m", asset.altitude_m, low=MIN_ALTITUDE_M, high=MAX_ALTITUDE_M)
    errors.text("municipality", asset.municipality)


def _field(errors: _Errors, asset: FieldAsset) -> None:
    _asset_id(errors, asset.asset)
    errors.ident("device", asset.device, optional=True)
    errors.ident("crop", asset.crop)
    errors.number("area_ha", asset.area_ha, above=0, high=MAX_AREA_HA)
    errors.text("variety", asset.variety)
    errors.text("name", asset.name)
    _sensors(errors, asset.sensors)
    plantings = [errors.date("plantings", p) for p in asset.plantings]
    if len(asset.expected_harvests) > len(asset.plantings):
        errors.add(
            "expected_harvests",
            "more expected harvests than plantings",
            "収穫予定日が植付日より多くあります",
        )
    for planted, expected in zip(plantings, asset.expected_harvests, strict=False):
        if expected == "":
            continue
        harvest = errors.date("expected_harvests", expected)
        if planted is not None and harvest is not None and harvest <= planted:
            errors.add(
                "expected_harvests",
                f"the harvest expected on {harvest} is not after its planting on {planted}",
                f"収穫予定日 {harvest} が植付日 {planted} より後になっていません",
            )


def _stand(errors: _Errors, asset: StandAsset, today: dt.date) -> None:
    _asset_id(errors, asset.asset)
    errors.ident("device", asset.device, optional=True)
    errors.choice("species", asset.species, SPECIES)
    errors.number("area_ha", asset.area_ha, above=0, high=MAX_AREA_HA)
    errors.number("age_years", asset.age_years, low=0, high=1000)
    age_on = errors.date("age_on", asset.age_on)
    if age_on is not None and age_on > today + dt.timedelta(days=1):
        errors.add("age_on", "age_on is in the future", "age_on が未来の日付です")
    errors.number("trees_per_ha", asset.trees_per_ha, above=0, high=100_000, optional=True)
    errors.number("volume_m3_ha", asset.volume_m3_ha, low=0, high=5000, optional=True)
    errors.number("dbh_cm", asset.dbh_cm, above=0, high=500, optional=True)
    errors.number(
        "planting_year",
        asset.planting_year,
        low=1600,
        high=today.year + 1,
        integer=True,
        optional=True,
    )
    errors.number("site_index_m", asset.site_index_m, above=0, high=80, optional=True)
    errors.text("name", asset.name)
    _sensors(errors, asset.sensors)


def _bin(errors: _Errors, asset: BinAsset) -> None:
    _asset_id(errors, asset.asset)
    errors.ident("device", asset.device, optional=True)
    errors.text("item", asset.item, required=True)
    errors.number("unit_kg", asset.unit_kg, above=0, high=100_000)
    errors.number("capacity", asset.capacity, above=0, high=1e12, integer=True)
    errors.ident("weight_sensor", asset.weight_sensor, optional=True)
    errors.ident("count_sensor", asset.count_sensor, optional=True)
    if asset.device and not (asset.weight_sensor or asset.count_sensor):
        errors.add(
            "weight_sensor",
            "a bin with a device needs its weight or count sensor",
            "デバイスを付けた棚には重量センサーか計数センサーが必要です",
        )
    errors.number("lead_time_h", asset.lead_time_h, low=0, high=24 * 366)
    errors.number("tare_kg", asset.tare_kg, low=0, high=100_000)
    errors.number("tolerance", asset.tolerance, low=0, integer=True, optional=True)
    errors.number("reorder_point", asset.reorder_point, low=0, integer=True, optional=True)
    capacity_ok = isinstance(asset.capacity, int | float) and not isinstance(asset.capacity, bool)
    reorder = asset.reorder_point
    if capacity_ok and isinstance(reorder, int | float) and reorder > asset.capacity:
        errors.add(
            "reorder_point",
            f"the reorder point {reorder} is above the capacity {asset.capacity}",
            f"発注点 {reorder} が容量 {asset.capacity} を超えています",
        )
    errors.text("supplier", asset.supplier)


def check_asset(asset: Asset, *, index: int = 0, today: dt.date | None = None) -> list[FieldError]:
    """Every problem of one registry entry (none: it can be stored)."""
    errors = _Errors(index)
    errors.ident("site", asset.site)
    if isinstance(asset, SiteAsset):
        _site(errors, asset)
    elif isinstance(asset, FieldAsset):
        _field(errors, asset)
    elif isinstance(asset, StandAsset):
        _stand(errors, asset, today or dt.datetime.now(dt.UTC).date())
    else:
        _bin(errors, asset)
    return errors.found


def check_record(
    record: WorkRecord, *, index: int = 0, asset_kind: AssetKind | None, now_ms: int
) -> list[FieldError]:
    """Every problem of one work record; `asset_kind` is the kind of its asset (None: no such)."""
    errors = _Errors(index)
    errors.ident("site", record.site)
    errors.ident("asset", record.asset)
    if record.record:
        errors.ident("record", record.record)
    try:
        kind: RecordKind | None = RecordKind(record.kind)
    except ValueError:
        kind = None
        errors.choice("kind", record.kind, [k.value for k in RecordKind])
    if not errors.found:
        if asset_kind is None:
            errors.add(
                "asset",
                f"site {record.site!r} has no field, stand or bin {record.asset!r}",
                f"拠点 {record.site!r} に圃場・林分・部品棚 {record.asset!r} がありません",
            )
        elif kind is not None and RECORD_ASSET[kind] is not asset_kind:
            wanted = RECORD_ASSET[kind]
            errors.add(
                "kind",
                f"a {kind.value} record is for a {wanted.value}, and {record.asset!r} is a "
                f"{asset_kind.value}",
                f"{kind.value} の記録は{_KIND_JA[wanted]}用です（{record.asset!r} は"
                f"{_KIND_JA[asset_kind]}）",
            )
    _at(errors, record.at_ms, now_ms)
    if kind is not None:
        errors.number("quantity", record.quantity, low=0, optional=kind not in QUANTITY_REQUIRED)
        units = UNITS.get(kind)
        if units is not None and record.unit and record.unit not in units:
            errors.choice("unit", record.unit, units)
    errors.text("unit", record.unit, limit=32)
    errors.text("grade", record.grade)
    errors.text("product", record.product)
    errors.text("note", record.note, limit=MAX_NOTE)
    return errors.found


def _at(errors: _Errors, at_ms: object, now_ms: int) -> None:
    if isinstance(at_ms, bool) or not isinstance(at_ms, int):
        errors.add("at", "the time of the work is required", "作業日時は必須です")
        return
    if at_ms > now_ms + FUTURE_SLACK_MS:
        errors.add(
            "at",
            "the work is dated more than a day in the future",
            "作業日時が1日以上先の未来になっています",
        )
    # The store keeps times from 2000 on (as every reading).
    if at_ms < MIN_TIMESTAMP_MS:
        errors.add("at", "the work is dated before 2000", "作業日時が2000年より前です")


def default_unit(kind: RecordKind) -> str:
    """The unit a record of `kind` is in when none is given ("" where any unit goes)."""
    units = UNITS.get(kind)
    return units[0] if units else ""


def parse_at(text: str) -> int:
    """The time of a piece of work from an ISO date or datetime, in ms (ValueError if neither).

    A date alone is taken as noon in Japan, so that it is the same calendar day in JST and in
    UTC; a datetime without an offset is UTC, as everywhere in the API.
    """
    text = text.strip()
    if len(text) == 10:
        day = dt.date.fromisoformat(text)
        return day_start_ms(day_number(day)) + 12 * MS_PER_HOUR
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)
