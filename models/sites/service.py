"""The registry's one way in: save, retire and record, each validated whole, then one write.

Whatever enters the registry (the API, the CLI, an import, the simulators) goes through
`RegistryService`, so the same rules hold everywhere: every entry of a batch is checked first
(`models.sites.validation`), and only a batch without a single problem is written, in one
write, stamped with who made the change (`by`) and when (the service's clock).

Devices: a field, stand or bin may name any device id that could be stored (a device is
registered with identity's registry, or only known from its readings, or not installed yet);
the registry does not ask identity about it. The device is one of the entry's own site:
readings are tagged with site and device, so the same device id at another site is another
device.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from core.errors import ConflictError, InvalidInputError, NotFoundError
from edge.protocol import ProtocolError, check_id
from models.sites.validation import FieldError, check_asset, check_record, default_unit
from storage.assets import (
    Asset,
    AssetKind,
    AssetVersion,
    Attachment,
    Change,
    Registry,
    SiteAsset,
    SiteKind,
    asset_history,
    asset_kind,
    asset_point,
    attachments,
    read_assets,
    retire_asset,
)
from storage.errors import StoreDownError, StoreError
from storage.layout import SITE_ASSET
from storage.protocol import ReadingStore
from storage.readings import from_store
from storage.records import (
    RecordKind,
    WorkRecord,
    find_record,
    read_records,
    void_record,
    write_records,
)


class RegistryInvalid(InvalidInputError):  # noqa: N818 (the contract's name)
    """A batch with at least one problem; `errors` lists every one of them. Nothing was written."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        """`errors` is not empty."""
        first = errors[0]
        super().__init__(f"{len(errors)} problem(s); first: {first.field}: {first.en}", first.field)
        self.errors = list(errors)


@contextlib.contextmanager
def _writing() -> Iterator[None]:
    """A write the store did not take is one to retry later (StoreDownError), never half done:
    each is one request of the store."""
    try:
        yield
    except StoreError as exc:
        raise StoreDownError(f"the store did not take the change: {exc}") from exc


def _storable(value: object) -> bool:
    try:
        check_id(value, "id")
    except ProtocolError:
        return False
    return True


def _entries(registry: Registry) -> dict[tuple[str, str], Asset]:
    """Every entry in force by (site, asset id)."""
    out: dict[tuple[str, str], Asset] = {(s, SITE_ASSET): a for s, a in registry.sites.items()}
    for group in (registry.fields, registry.stands, registry.bins):
        for entries in group.values():
            for entry in entries:
                out[entry.site, entry.asset] = entry
    return out


# The kind of site each kind of entry belongs to.
SITE_OF: dict[AssetKind, SiteKind] = {
    AssetKind.FIELD: SiteKind.FARM,
    AssetKind.STAND: SiteKind.FOREST,
    AssetKind.BIN: SiteKind.FACTORY,
}
_SITE_JA = {SiteKind.FARM: "農場", SiteKind.FOREST: "森林", SiteKind.FACTORY: "工場"}
_ENTRY_JA = {AssetKind.FIELD: "圃場", AssetKind.STAND: "林分", AssetKind.BIN: "部品棚"}


def _site_fits(index: int, asset: Asset, site_kind: SiteKind | None) -> list[FieldError]:
    """A field belongs to a registered farm, a stand to a forest, a bin to a factory."""
    if site_kind is None:
        return [
            FieldError(
                index,
                "site",
                f"site {asset.site!r} is not registered",
                f"拠点 {asset.site!r} は登録されていません",
            )
        ]
    kind = asset_kind(asset)
    wanted = SITE_OF[kind]
    if site_kind is wanted:
        return []
    return [
        FieldError(
            index,
            "site",
            f"site {asset.site!r} is a {site_kind.value}; a {kind.value} belongs to a "
            f"{wanted.value}",
            f"拠点 {asset.site!r} は{_SITE_JA[site_kind]}です。{_ENTRY_JA[kind]}は"
            f"{_SITE_JA[wanted]}の拠点に登録してください",
        )
    ]


def _kind_kept(
    index: int, held: SiteAsset, asset: SiteAsset, existing: dict[tuple[str, str], Asset]
) -> list[FieldError]:
    """A site keeps its kind while fields, stands or bins of that kind are registered there."""
    if SiteKind(asset.kind) is held.kind:
        return []
    if not any(s == asset.site and a != SITE_ASSET for s, a in existing):
        return []
    return [
        FieldError(
            index,
            "kind",
            f"site {asset.site!r} has entries of a {held.kind.value}; retire them first",
            f"拠点 {asset.site!r} には{_SITE_JA[held.kind]}の登録があります。先に廃止してください",
        )
    ]


class RegistryService:
    """Validated changes to one store's asset registry and work records."""

    def __init__(self, store: ReadingStore, clock: Callable[[], float] = time.time) -> None:
        """`clock` gives seconds since the epoch (tests hand in a fixed one)."""
        self.store = store
        self.clock = clock

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def registry(self, tenant: str, sites: Sequence[str] = ()) -> Registry:
        """The entries in force (of `sites`, if given)."""
        return from_store(lambda: read_assets(self.store, tenant, sites), Registry())

    def check(self, tenant: str, assets: Sequence[Asset]) -> list[FieldError]:
        """Every problem of a batch, against the registry as it is now (nothing is written)."""
        today = dt.datetime.fromtimestamp(self.clock(), dt.UTC).date()
        existing = _entries(self.registry(tenant))
        site_kinds = {s: a.kind for (s, _), a in existing.items() if isinstance(a, SiteAsset)}
        site_kinds.update({a.site: a.kind for a in assets if isinstance(a, SiteAsset)})
        seen: set[tuple[str, str]] = set()
        errors: list[FieldError] = []
        for index, asset in enumerate(assets):
            found = check_asset(asset, index=index, today=today)
            if found:
                errors.extend(found)
                continue
            key = (asset.site, asset.asset)
            if key in seen:
                errors.append(
                    FieldError(
                        index,
                        "asset",
                        f"{asset.asset!r} of site {asset.site!r} is given twice",
                        f"拠点 {asset.site!r} の {asset.asset!r} が二度指定されています",
                    )
                )
            seen.add(key)
            if not isinstance(asset, SiteAsset):
                errors.extend(_site_fits(index, asset, site_kinds.get(asset.site)))
            held = existing.get(key)
            if isinstance(held, SiteAsset) and isinstance(asset, SiteAsset):
                errors.extend(_kind_kept(index, held, asset, existing))
            if held is not None and asset_kind(held) is not asset_kind(asset):
                errors.append(
                    FieldError(
                        index,
                        "asset",
                        f"{asset.asset!r} of site {asset.site!r} is already a "
                        f"{asset_kind(held).value}",
                        f"拠点 {asset.site!r} の {asset.asset!r} は既に別の種類"
                        f"（{asset_kind(held).value}）で登録されています",
                    )
                )
        return errors

    def save(self, tenant: str, assets: Sequence[Asset], *, by: str) -> list[Asset]:
        """Create or update every entry in one write, or none of them (RegistryInvalid)."""
        errors = self.check(tenant, assets)
        if errors:
            raise RegistryInvalid(errors)
        if not assets:
            return []
        existing = _entries(self.registry(tenant))
        now_ms = self._now_ms()
        points = [
            asset_point(
                tenant,
                a,
                now_ms,
                by=by,
                change=Change.UPDATE if (a.site, a.asset) in existing else Change.CREATE,
            )
            for a in assets
        ]
        with _writing():
            refused = self.store.write_points(points)
            if refused:
                raise StoreError(f"the store refused {len(refused)} entries: {refused[0].reason}")
        return list(assets)

    def find(self, tenant: str, site: str, asset: str) -> Asset:
        """The entry in force, or NotFoundError."""
        entry = _entries(self.registry(tenant, [site])).get((site, asset))
        if entry is None:
            raise NotFoundError(f"site {site!r} has no entry {asset!r}")
        return entry

    def retire(self, tenant: str, site: str, asset_id: str, *, by: str) -> Asset:
        """End an entry (its history stays); a site is retired only after its entries."""
        entry = self.find(tenant, site, asset_id)
        if isinstance(entry, SiteAsset):
            registry = self.registry(tenant, [site])
            if registry.fields.get(site) or registry.stands.get(site) or registry.bins.get(site):
                raise ConflictError(f"site {site!r} still has fields, stands or bins in force")
        with _writing():
            retire_asset(self.store, tenant, entry, by=by, now_ms=self._now_ms())
        return entry

    def history(
        self, tenant: str, site: str, asset: str
    ) -> tuple[list[AssetVersion], list[Attachment]]:
        """Every version of an entry (retired ones too) and which device measured it when."""
        versions = from_store(lambda: asset_history(self.store, tenant, site, asset), [])
        if not versions:
            raise NotFoundError(f"site {site!r} has no entry {asset!r}")
        return versions, attachments(versions)

    def check_records(self, tenant: str, records: Sequence[WorkRecord]) -> list[FieldError]:
        """Every problem of a batch of records (nothing is written)."""
        # Only ids that could be stored are looked up; the others are refused by the checks.
        sites = sorted({r.site for r in records if _storable(r.site)})
        entries = _entries(self.registry(tenant, sites)) if sites else {}
        now_ms = self._now_ms()
        errors: list[FieldError] = []
        for index, record in enumerate(records):
            held = entries.get((record.site, record.asset))
            kind: AssetKind | None = None if held is None else asset_kind(held)
            if kind is AssetKind.SITE:
                kind = None
            errors.extend(check_record(record, index=index, asset_kind=kind, now_ms=now_ms))
        return errors

    def add_records(
        self, tenant: str, records: Sequence[WorkRecord], *, by: str
    ) -> list[WorkRecord]:
        """Store every record, stamped with `by` and now, or none of them (RegistryInvalid)."""
        errors = self.check_records(tenant, records)
        if errors:
            raise RegistryInvalid(errors)
        now_ms = self._now_ms()
        stamped = [
            replace(
                r,
                kind=RecordKind(r.kind),
                unit=r.unit or default_unit(RecordKind(r.kind)),
                by=by,
                entered_ms=now_ms,
                voided_by="",
                voided_ms=0,
            ).with_id()
            for r in records
        ]
        with _writing():
            write_records(self.store, tenant, stamped)
        return stamped

    def records(
        self,
        tenant: str,
        *,
        sites: Sequence[str] = (),
        assets: Sequence[str] = (),
        kinds: Sequence[RecordKind] = (),
        start_ms: int | None = None,
        end_ms: int | None = None,
        include_void: bool = False,
    ) -> list[WorkRecord]:
        """Records in [start, end), oldest first."""
        return from_store(
            lambda: read_records(
                self.store,
                tenant,
                sites=sites,
                assets=assets,
                kinds=kinds,
                start_ms=start_ms,
                end_ms=end_ms,
                include_void=include_void,
            ),
            [],
        )

    def void(self, tenant: str, site: str, record: str, *, by: str) -> WorkRecord:
        """Withdraw a record (kept, marked void); NotFoundError if there is none."""
        found = from_store(lambda: find_record(self.store, tenant, site, record), None)
        if found is None:
            raise NotFoundError(f"site {site!r} has no record {record!r}")
        if found.voided:
            return found
        with _writing():
            return void_record(self.store, tenant, found, by=by, now_ms=self._now_ms())
