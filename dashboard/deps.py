"""Every FastAPI dependency of the routes as an `Annotated` alias, which tests can override."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Path, Query, Request, Security
from fastapi.security import APIKeyHeader

from core import time as core_time
from core.errors import NotFoundError
from dashboard.auth import AuthenticationError, Permission, authorize
from dashboard.context import AppContext
from dashboard.keys import ApiKey
from dashboard.ratelimit import RateLimitedError
from dashboard.scopes import export_scope
from edge.protocol import ProtocolError, check_id
from models.forest.service import ForestService
from models.harvest.service import ForecastService
from models.sites.service import RegistryService
from models.stock.quantity_service import QuantityService
from models.stock.service import StockService
from storage.alerts import AlertStore
from storage.errors import QueryError

API_KEY_HEADER = "X-API-Key"
# Routers carry the prefix themselves, so that route templates (metrics labels) are full paths.
API_PREFIX = "/api/v1"


# The dependencies below are `async` although they do not await: each sync dependency costs a
# hop to the thread pool, and these are microseconds of work (one indexed SQLite lookup).
async def get_context(request: Request) -> AppContext:
    """The application's context, created once by `create_app`."""
    context: AppContext = request.app.state.context
    return context


Context = Annotated[AppContext, Depends(get_context)]


async def get_alert_store(context: Context) -> AlertStore:
    """The application's one alert store (it orders acknowledgements)."""
    return context.alerts


async def get_forecasts(context: Context) -> ForecastService:
    """The application's harvest forecast service."""
    return context.forecasts


async def get_stock(context: Context) -> StockService:
    """The application's stock-out service over the registered bins."""
    return context.stock


async def get_forest(context: Context) -> ForestService:
    """The application's growth and rotation service over the registered stands."""
    return context.forest


async def get_quantity(context: Context) -> QuantityService:
    """The application's quantity confirmation of the registered bins."""
    return context.quantity


async def get_registry(context: Context) -> RegistryService:
    """The application's asset registry and work records service."""
    return context.registry


Alerts = Annotated[AlertStore, Depends(get_alert_store)]
Registry = Annotated[RegistryService, Depends(get_registry)]
Forecasts = Annotated[ForecastService, Depends(get_forecasts)]
Stock = Annotated[StockService, Depends(get_stock)]
Forest = Annotated[ForestService, Depends(get_forest)]
Quantity = Annotated[QuantityService, Depends(get_quantity)]

_api_key = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="An API key (`shk_…`) from `shinshu keys create`; never sent in the URL.",
)


async def get_key(
    request: Request, context: Context, token: Annotated[str | None, Security(_api_key)]
) -> ApiKey:
    """The caller's key: 401 without a valid one; 429 after many wrong ones, or over budget."""
    # Checked before the lookup, so that an address guessing keys costs next to nothing.
    address = request.client.host if request.client else ""
    try:
        context.auth_failures.check(address)
    except RateLimitedError:
        context.metrics.auth_throttled.inc()
        raise
    if not token:
        context.metrics.auth_failures.labels("missing").inc()
        raise AuthenticationError(f"send an API key in the {API_KEY_HEADER} header")
    key = context.keys.authenticate(token)
    if key is None:
        context.metrics.auth_failures.labels("rejected").inc()
        # Only a wrong key spends the address's budget: without a key nothing is guessed.
        with contextlib.suppress(RateLimitedError):
            context.auth_failures.take(address)
        raise AuthenticationError("unknown or revoked API key")
    request.state.key_id = key.id
    request.state.tenant = key.tenant
    try:
        context.limiter.take(key.id)
    except RateLimitedError:
        context.metrics.rate_limited.inc()
        raise
    return key


CurrentKey = Annotated[ApiKey, Depends(get_key)]
TenantPath = Annotated[str, Path(description="tenant id; must be the key's own tenant")]


def requires(permission: Permission) -> Callable[[str, ApiKey], Awaitable[ApiKey]]:
    """A dependency that lets a request through only with `permission` in the path's tenant."""

    async def dependency(tenant: TenantPath, key: CurrentKey) -> ApiKey:
        authorize(key, tenant, permission)
        return key

    # Tests read this back from the route table to check every route against every role.
    dependency.permission = permission  # type: ignore[attr-defined]
    return dependency


def _exporting() -> Callable[[str, ApiKey, AppContext], Awaitable[ApiKey]]:
    """Like `requires(EXPORT)`, and a researcher account passes with a grant of the tenant."""

    async def dependency(tenant: TenantPath, key: CurrentKey, context: Context) -> ApiKey:
        export_scope(key, tenant, context.grants)
        return key

    dependency.permission = Permission.EXPORT  # type: ignore[attr-defined]
    return dependency


ReadKey = Annotated[ApiKey, Depends(requires(Permission.READ))]
ExportKey = Annotated[ApiKey, Depends(_exporting())]
KeysAdmin = Annotated[ApiKey, Depends(requires(Permission.MANAGE_KEYS))]
GrantsAdmin = Annotated[ApiKey, Depends(requires(Permission.MANAGE_GRANTS))]
DevicesAdmin = Annotated[ApiKey, Depends(requires(Permission.MANAGE_DEVICES))]
DevicesOperator = Annotated[ApiKey, Depends(requires(Permission.CONFIGURE_DEVICES))]
AckKey = Annotated[ApiKey, Depends(requires(Permission.ACKNOWLEDGE_ALERTS))]
AlertsAdmin = Annotated[ApiKey, Depends(requires(Permission.MANAGE_ALERTS))]
AssetsOperator = Annotated[ApiKey, Depends(requires(Permission.MANAGE_ASSETS))]
SharingAdmin = Annotated[ApiKey, Depends(requires(Permission.SHARE_DISASTER))]
PrefectureKey = Annotated[ApiKey, Depends(requires(Permission.VIEW_SHARED_DISASTER))]


def changed_by(key: ApiKey) -> str:
    """Who a change is stamped with: the key's id, and its name if it has one."""
    return f"key:{key.id} ({key.name})" if key.name else f"key:{key.id}"


def valid_id(value: str, what: str) -> str:
    """`value` if it could be a stored id, else NotFoundError: nothing can be stored under it."""
    try:
        return check_id(value, what)
    except ProtocolError as exc:
        raise NotFoundError(f"no {what} {value!r}") from exc


def to_ms(value: dt.datetime) -> int:
    """Milliseconds since the epoch; a time without zone is taken as UTC."""
    try:
        return core_time.to_ms(value)
    except (OverflowError, ValueError, OSError) as exc:
        raise QueryError(f"time {value.isoformat()} is out of range") from exc


StartQuery = Annotated[
    dt.datetime | None,
    Query(description="inclusive start, ISO 8601 (UTC if no offset is given)"),
]
EndQuery = Annotated[
    dt.datetime | None,
    Query(description="exclusive end, ISO 8601 (UTC if no offset); default: now"),
]


def time_range(
    start: dt.datetime | None, end: dt.datetime | None, default_span: dt.timedelta
) -> tuple[int, int]:
    """[start, end) in ms: end defaults to now, start to `default_span` before end."""
    end_ms = to_ms(end) if end is not None else to_ms(dt.datetime.now(dt.UTC))
    if start is not None:
        return to_ms(start), end_ms
    return end_ms - int(default_span.total_seconds() * 1000), end_ms
