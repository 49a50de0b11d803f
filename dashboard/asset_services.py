"""The stock and forest services of one application, built once and shared by their routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from dashboard.asset_queries import AssetReader
from dashboard.deps import Context
from dashboard.inventory import StockService
from dashboard.rotation import ForestService
from ingest.stores.influx import InfluxStore


@dataclass(frozen=True, slots=True)
class AssetServices:
    """Registry reads, bin forecasts and stand rotations over the application's store."""

    reader: AssetReader
    stock: StockService
    forest: ForestService


def build_services(store: InfluxStore, ttl_s: float) -> AssetServices:
    """Services over `store` whose answers are kept `ttl_s` seconds (0: never)."""
    reader = AssetReader(store, ttl_s)
    return AssetServices(reader, StockService(reader, ttl_s), ForestService(reader, ttl_s))


async def get_services(context: Context) -> AssetServices:
    """The application's asset services, built with its context."""
    return context.assets


Services = Annotated[AssetServices, Depends(get_services)]
