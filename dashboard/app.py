"""The FastAPI application: `create_app(settings)` wires the context, errors and routes."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from core.errors import ShinshuError
from core.settings import ApiSettings
from dashboard.auth import AuthenticationError, PermissionDeniedError
from dashboard.context import AppContext, build_context
from dashboard.deps import API_KEY_HEADER
from dashboard.errors import (
    ConflictError,
    DashboardError,
    InvalidInputError,
    InvalidRequestError,
    NotFoundError,
    UnavailableError,
)
from dashboard.metrics import AccessLogMiddleware
from dashboard.ratelimit import RateLimitedError
from dashboard.routes import api_routers, operations_router, ui_router
from dashboard.sta.routes import router as sta_router
from dashboard.validation_ja import japanese
from models.sites.service import RegistryInvalid

# Registry fields whose values come from the path, not the body.
_PATH_FIELDS = frozenset({"site", "asset"})

DESCRIPTION = f"""
Readings, aggregates and research exports of the Shinshu IoT platform.

Every `/api/v1` route needs an API key in the `{API_KEY_HEADER}` header (never in the URL).
A key belongs to one tenant and has one role: **viewer** (read sites, devices, readings and
aggregates), **operator** (viewer, plus alerts, device configuration, the asset registry
and work records), **admin**
(operator, plus the tenant's keys, device registration, disaster sharing and research grants),
**researcher** (exports of the sites shared with the key, nothing else; a researcher account
reads the sites tenants' admins granted it, `/api/v1/research/grants`) and **prefecture**
(the landslide levels of the sites every tenant shares, nothing of any tenant's own data).
The public disaster list (`/api/v1/public/disaster`) needs no key. Times are ISO 8601 in UTC.

The OGC SensorThings API 1.1 (sensing, read-only) is served under `/sta/v1.1` with the same
keys: readers see their tenant, a researcher key the sites shared with it, a researcher account
the sites of its grants in force (docs/sta.md, docs/grants.md).
"""

# Each kind of our errors maps to one status, the first that matches (so a KeyNotFoundError,
# also an InvalidRequestError, is a 404); nothing below the web layer knows about HTTP.
_STATUS: list[tuple[type[ShinshuError], int]] = [
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (RateLimitedError, 429),
    (UnavailableError, 503),
    (ConflictError, 409),
    (InvalidInputError, 422),
    (InvalidRequestError, 400),
    # The web layer's own errors of no other kind are the client's.
    (DashboardError, 400),
]


def _error_response(_request: Request, exc: Exception) -> JSONResponse:
    status = next((code for kind, code in _STATUS if isinstance(exc, kind)), None)
    if status is None:
        # Not a kind the client can act on: a server error, logged with its trace by Starlette.
        raise exc
    headers: dict[str, str] = {}
    if isinstance(exc, AuthenticationError):
        headers["WWW-Authenticate"] = f'APIKey header="{API_KEY_HEADER}"'
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after_s)
    if isinstance(exc, RegistryInvalid):
        # Every field at fault, in English and Japanese, in the shape of FastAPI's own 422.
        path = _request.path_params
        detail = [
            {
                "loc": ["path" if e.field in _PATH_FIELDS and e.field in path else "body", e.field],
                "msg": e.en,
                "msg_ja": e.ja,
                "type": "value_error",
            }
            for e in exc.errors
        ]
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    if isinstance(exc, InvalidInputError):
        # The shape of FastAPI's own validation errors, so that clients read one kind of 422.
        detail = [{"loc": ["body", exc.field], "msg": str(exc), "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)


async def _validation_response(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own 422, each error with its reason in Japanese as well (`msg_ja`)."""
    assert isinstance(exc, RequestValidationError)
    detail = [{**error, "msg_ja": japanese(error)} for error in exc.errors()]
    return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=422)


def create_app(settings: ApiSettings, context: AppContext | None = None) -> FastAPI:
    """The application; `context` lets tests share or replace the objects it uses."""
    context = context or build_context(settings)
    app = FastAPI(
        title="Shinshu IoT API",
        version="1.0.0",
        description=DESCRIPTION,
        license_info={"name": "MIT"},
    )
    app.state.context = context
    app.include_router(operations_router)
    app.include_router(ui_router)
    for router in api_routers:
        app.include_router(router)
    app.include_router(sta_router)
    app.add_exception_handler(ShinshuError, _error_response)
    app.add_exception_handler(RequestValidationError, _validation_response)
    app.add_middleware(AccessLogMiddleware, metrics=context.metrics)
    return app
