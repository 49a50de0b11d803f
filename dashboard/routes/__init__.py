"""HTTP routes, one module per area; the API's routers carry the `/api/v1` prefix."""

from __future__ import annotations

from fastapi import APIRouter

from dashboard.routes import (
    alerts,
    exports,
    forecasts,
    forest,
    keys,
    readings,
    sites,
    status,
    stock,
)

api_routers: list[APIRouter] = [sites.router, readings.router, exports.router, keys.router]
api_routers.append(alerts.router)
api_routers += [stock.router, forest.router]
api_routers.append(forecasts.router)
operations_router = status.router
