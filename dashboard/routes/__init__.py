"""HTTP routes, one module per area; the API's routers carry the `/api/v1` prefix."""

from __future__ import annotations

from fastapi import APIRouter

from dashboard.routes import exports, keys, readings, sites, status

api_routers: list[APIRouter] = [sites.router, readings.router, exports.router, keys.router]
operations_router = status.router
