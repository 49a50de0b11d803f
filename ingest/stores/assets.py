"""Moved to `storage.assets`; this name stays until every caller imports from there."""

from storage.assets import (  # noqa: F401
    MEASUREMENT,
    SITE_ASSET,
    Asset,
    AssetError,
    AssetKind,
    BinAsset,
    FieldAsset,
    Registry,
    SiteAsset,
    SiteKind,
    StandAsset,
    asset_kind,
    read_assets,
    write_assets,
)
