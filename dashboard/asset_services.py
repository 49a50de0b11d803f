"""The stock and forest services of one application, built once and shared by their routes."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from dashboard.asset_queries import AssetReader
from dashboard.deps import Context
from dashboard.inventory import StockService
from dashboard.rotation import ForestService
from ingest.stores.influx import InfluxStore

_build_lock = threading.Lock()


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


async def get_services(request: Request, context: Context) -> AssetServices:
    """The application's asset services, created on first use with the aggregate cache TTL."""
    state = request.app.state
    services: AssetServices | None = getattr(state, "asset_services", None)
    if services is None:
        with _build_lock:
            services = getattr(state, "asset_services", None)
            if services is None:
                services = build_services(context.store, context.settings.aggregate_ttl_s)
                state.asset_services = services
    return services


Services = Annotated[AssetServices, Depends(get_services)]
