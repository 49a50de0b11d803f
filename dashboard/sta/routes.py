"""The SensorThings API routes: the service root, each entity set, entity and navigation.

Read-only, scoped like the rest of the API: a key sees its own tenant's entities, a researcher
key only the sites shared with it, a researcher account the sites of its grants in force across
tenants (each answer logged for those tenants); a prefecture key none. See docs/sta.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from core.errors import NotFoundError
from dashboard.auth import PERMISSIONS, Permission, PermissionDeniedError
from dashboard.context import AppContext
from dashboard.deps import Context, CurrentKey
from dashboard.keys import ApiKey, Role
from dashboard.schemas import AUTHENTICATED, error_responses
from dashboard.scopes import log_download, scopes_of
from dashboard.sta import entities as ent
from dashboard.sta.ids import unquote_key
from dashboard.sta.options import DEFAULT_TOP, MAX_TOP, Options, parse_options
from dashboard.sta.render import Renderer
from dashboard.sta.source import Source

STA_PREFIX = "/sta/v1.1"
_SETS_DOC = {
    "Things": "devices",
    "Locations": "sites, as GeoJSON points where the registry has coordinates",
    "HistoricalLocations": "none: devices are not known to have moved",
    "Datastreams": "sensor channels of devices",
    "Sensors": "sensor kinds of the catalogue",
    "ObservedProperties": "what each sensor kind measures",
    "Observations": "stored readings",
    "FeaturesOfInterest": "sites, as what their sensors observe",
}


class StaJSONResponse(JSONResponse):
    """JSON written by msgspec straight from the rendered dicts.

    A page of 10,000 Observations is plain dicts, strings and numbers already; FastAPI's
    generic path would walk every value once more (jsonable_encoder) before encoding it.
    """

    def render(self, content: Any) -> bytes:
        """The body: compact UTF-8 JSON."""
        return msgspec.json.encode(content)


router = APIRouter(
    prefix=STA_PREFIX,
    tags=["SensorThings API"],
    responses=error_responses(*AUTHENTICATED),
    default_response_class=StaJSONResponse,
)


async def sta_key(key: CurrentKey) -> ApiKey:
    """A key that may read through this API: readers of the tenant, and researchers."""
    if Permission.READ not in PERMISSIONS[key.role] and key.role is not Role.RESEARCHER:
        raise PermissionDeniedError(f"the {key.role.value} role may not read sensor data")
    return key


StaKey = Annotated[ApiKey, Depends(sta_key)]


def query_options(
    request: Request,
    _filter: Annotated[str | None, Query(alias="$filter", description="OData filter")] = None,
    _select: Annotated[str | None, Query(alias="$select", description="properties")] = None,
    _expand: Annotated[str | None, Query(alias="$expand", description="navigations")] = None,
    _orderby: Annotated[str | None, Query(alias="$orderby", description="prop [asc|desc]")] = None,
    _top: Annotated[
        str | None,
        Query(alias="$top", description=f"page size (default {DEFAULT_TOP}, ≤ {MAX_TOP})"),
    ] = None,
    _skip: Annotated[str | None, Query(alias="$skip", description="entities to skip")] = None,
    _count: Annotated[str | None, Query(alias="$count", description="true: add @iot.count")] = None,
) -> Options:
    """The request's query options (the parameters above document them; all are read here)."""
    return parse_options(dict(request.query_params))


QueryOptions = Annotated[Options, Depends(query_options)]


def _renderer(request: Request, context: AppContext, key: ApiKey) -> Renderer:
    base = str(request.base_url).rstrip("/") + STA_PREFIX
    return Renderer(Source.of(context, scopes_of(key, context.grants)), base)


def _logged(
    request: Request, context: AppContext, key: ApiKey, renderer: Renderer, out: dict[str, Any]
) -> StaJSONResponse:
    """`out` as the answer, after logging a researcher's download of each tenant's entities."""
    what = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    for tenant, count in sorted(renderer.source.rendered.items()):
        scope = renderer.source.views[tenant].scope
        log_download(context.grants, key, scope, channel="sta", what=what, items=count)
    return StaJSONResponse(out)


def _collection(
    request: Request, renderer: Renderer, page: Any, options: Options
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if page.count is not None:
        out["@iot.count"] = page.count
    out["value"] = [renderer.entity(e, options) for e in page.items]
    # `$top=0` asks only for the count: a next link to the same empty page would never end.
    if page.more and options.top > 0:
        params = {"$top": str(options.top), "$skip": str(options.skip + options.top)}
        out["@iot.nextLink"] = str(request.url.include_query_params(**params))
    return out


@router.get("", summary="SensorThings service root")
def service_root(request: Request, key: StaKey) -> dict[str, Any]:
    """The entity sets served, and the conformance classes this service implements."""
    del key
    base = str(request.base_url).rstrip("/") + STA_PREFIX
    return {
        "value": [{"name": s, "url": f"{base}/{s}"} for s in ent.ENTITY_SETS],
        "serverSettings": {
            "conformance": [
                "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
                "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
                "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
            ]
        },
    }


def _list_route(entity_set: str) -> Callable[..., StaJSONResponse]:
    def handler(
        request: Request, key: StaKey, context: Context, options: QueryOptions
    ) -> StaJSONResponse:
        renderer = _renderer(request, context, key)
        page = renderer.page(entity_set, None, None, options)
        out = _collection(request, renderer, page, options)
        return _logged(request, context, key, renderer, out)

    handler.__doc__ = f"Every entity of {entity_set} the key may see: {_SETS_DOC[entity_set]}."
    return handler


def _one_route(entity_set: str) -> Callable[..., StaJSONResponse]:
    def handler(
        request: Request, entity_id: str, key: StaKey, context: Context, options: QueryOptions
    ) -> StaJSONResponse:
        renderer = _renderer(request, context, key)
        entity = renderer.source.one(entity_set, unquote_key(entity_id))
        return _logged(request, context, key, renderer, renderer.entity(entity, options))

    handler.__doc__ = f"One entity of {entity_set} by its id, quoted: `{entity_set}('id')`."
    return handler


def _nav_route(entity_set: str, nav: str) -> Callable[..., StaJSONResponse]:
    target, many = ent.NAVIGATION[entity_set][nav]

    def handler(
        request: Request, entity_id: str, key: StaKey, context: Context, options: QueryOptions
    ) -> StaJSONResponse:
        renderer = _renderer(request, context, key)
        entity = renderer.source.one(entity_set, unquote_key(entity_id))
        if many:
            related = None if target == "Observations" else renderer.source.related(entity, nav)
            page = renderer.page(target, related, entity, options)
            out = _collection(request, renderer, page, options)
            return _logged(request, context, key, renderer, out)
        found = renderer.source.related(entity, nav)
        if not found:
            raise NotFoundError(f"{entity_set}('{entity.id}') has no {nav}")
        return _logged(request, context, key, renderer, renderer.entity(found[0], options))

    handler.__doc__ = f"The {nav} of one entity of {entity_set}."
    return handler


for _set in ent.ENTITY_SETS:
    router.add_api_route(f"/{_set}", _list_route(_set), methods=["GET"], summary=f"List {_set}")
    router.add_api_route(
        f"/{_set}({{entity_id}})", _one_route(_set), methods=["GET"], summary=f"An entity of {_set}"
    )
    for _nav in ent.NAVIGATION[_set]:
        router.add_api_route(
            f"/{_set}({{entity_id}})/{_nav}",
            _nav_route(_set, _nav),
            methods=["GET"],
            summary=f"{_nav} of an entity of {_set}",
        )
