"""HTTP routes, one module per area; the API's routers carry the `/api/v1` prefix."""

from __future__ import annotations

from fastapi import APIRouter

from dashboard.routes import (
    alerts,
    devices,
    disaster,
    exports,
    field,
    forecasts,
    forest,
    imports,
    keys,
    landslide,
    notifications,
    quantity,
    readings,
    records,
    registry,
    research,
    sites,
    status,
    stock,
    ui,
    whoami,
)

api_routers: list[APIRouter] = [
    sites.router,
    readings.router,
    exports.router,
    research.router,
    keys.router,
    whoami.router,
    alerts.router,
    stock.router,
    quantity.router,
    forest.router,
    forecasts.router,
    field.router,
    devices.router,
    notifications.router,
    registry.router,
    records.router,
    imports.router,
    landslide.router,
    disaster.router,
    disaster.public_router,
]
operations_router = status.router
ui_router = ui.router
