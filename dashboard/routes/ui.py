"""The web UI: the page shell at `/` and its static files under a content-hash version.

Assets are addressed as `/static/{version}/{path}` where `version` is a hash of every file in
`dashboard/static/`, so they can be cached for a year: a new release changes the prefix. The
shell itself is never cached, and tells the browser which optional API areas this server has,
so the UI never calls a route that does not exist.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import mimetypes
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.routing import APIRoute

from core.errors import NotFoundError
from core.settings import map_tiles

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
_YEAR = "public, max-age=31536000, immutable"
# Everything comes from this server; uPlot writes element styles, hence 'unsafe-inline' there.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
# Optional API areas the pages use, by the route template that proves the server has them.
FEATURE_ROUTES = {
    "whoami": "/api/v1/whoami",
    "alerts": "/api/v1/tenants/{tenant}/alerts",
    "acknowledge": "/api/v1/tenants/{tenant}/alerts/{alert_id}/acknowledge",
    "bins": "/api/v1/tenants/{tenant}/bins",
    "quantity": "/api/v1/tenants/{tenant}/stock/quantity",
    "fields": "/api/v1/tenants/{tenant}/fields",
    "forecast": "/api/v1/tenants/{tenant}/fields/{site}/forecast",
    "stands": "/api/v1/tenants/{tenant}/stands",
    "rotation": "/api/v1/tenants/{tenant}/stands/{site}/rotation",
    "models": "/api/v1/tenants/{tenant}/models",
    "registry": "/api/v1/tenants/{tenant}/registry",
    "notifications": "/api/v1/tenants/{tenant}/alert-rules",
    "records": "/api/v1/tenants/{tenant}/records",
    "research": "/api/v1/tenants/{tenant}/research/grants",
}

router = APIRouter(include_in_schema=False)


@functools.cache
def asset_version() -> str:
    """A hash of every static file's path and content: changes whenever any asset does."""
    digest = hashlib.sha256()
    for path in sorted(p for p in STATIC_DIR.rglob("*") if p.is_file()):
        digest.update(path.relative_to(STATIC_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _route_paths(routes: list[object]) -> set[str]:
    """Every API route template of the app, including those of nested routers."""
    found: set[str] = set()
    for route in routes:
        if isinstance(route, APIRoute):
            found.add(route.path)
        elif hasattr(route, "original_router"):
            # Newer FastAPI keeps included routers as branches instead of copying their routes.
            prefix = route.include_context.prefix  # type: ignore[attr-defined]
            found |= {prefix + p for p in _route_paths(route.original_router.routes)}  # type: ignore[attr-defined]
    return found


def features(routes: list[object]) -> list[str]:
    """The optional API areas present among `routes`."""
    paths = _route_paths(routes)
    return sorted(name for name, path in FEATURE_ROUTES.items() if path in paths)


@functools.cache
def _shell_template() -> str:
    return (STATIC_DIR / "index.html").read_text(encoding="utf-8")


def _attribute(value: object) -> str:
    """JSON for an HTML attribute value (in double quotes)."""
    return html.escape(json.dumps(value, ensure_ascii=False), quote=True)


def _tile_origin(template: str) -> str:
    """The scheme and host of a tile URL template, for the page's image sources."""
    parts = urlsplit(template)
    return f"{parts.scheme}://{parts.netloc}"


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    """The page shell; every page of the UI is a hash route inside it.

    The shell names the optional API areas and, when one is configured, the overview's map
    tiles; only then may the page load images from the tile server.
    """
    names = features(request.app.routes)
    if request.app.state.context.notifications.push_key is not None:
        names = sorted([*names, "push"])
    tiles = map_tiles(request.app.state.context.settings)
    config = None if tiles is None else {"tiles": tiles[0], "attribution": tiles[1]}
    body = (
        _shell_template()
        .replace("{{version}}", asset_version())
        .replace("{{features}}", _attribute(names))
        .replace("{{map}}", _attribute(config))
    )
    headers = {"Cache-Control": "no-cache", **_SECURITY_HEADERS}
    if tiles is not None:
        policy = headers["Content-Security-Policy"]
        images = "img-src 'self' data: blob:"
        headers["Content-Security-Policy"] = policy.replace(
            images, f"{images} {_tile_origin(tiles[0])}"
        )
    return HTMLResponse(body, headers=headers)


def _versioned(name: str) -> str:
    """A shell file with the current asset version filled in."""
    return (STATIC_DIR / name).read_text(encoding="utf-8").replace("{{version}}", asset_version())


@router.get("/status", response_class=HTMLResponse)
def disaster_status() -> HTMLResponse:
    """The public disaster page: shared sites' landslide levels, read without signing in."""
    return HTMLResponse(
        _versioned("status.html"), headers={"Cache-Control": "no-cache", **_SECURITY_HEADERS}
    )


@router.get("/sw.js")
def service_worker() -> Response:
    """The service worker, at the root so that its scope is the whole dashboard; never cached
    by HTTP (the browser checks it for updates itself)."""
    return Response(
        _versioned("sw.js"),
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", **_SECURITY_HEADERS},
    )


@router.get("/manifest.webmanifest")
def manifest() -> Response:
    """The web app manifest: the dashboard installs as an app on a phone."""
    return Response(
        _versioned("manifest.webmanifest"),
        media_type="application/manifest+json",
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/static/{version}/{path:path}")
def asset(version: str, path: str) -> Response:
    """A static file; cached for a year when asked for under the current version."""
    root = STATIC_DIR.resolve()
    target = (root / path).resolve()
    # Refuse anything outside the static folder (`..`, absolute paths, symlinks out).
    shell = ("index.html", "status.html", "sw.js", "manifest.webmanifest")
    if not target.is_relative_to(root) or not target.is_file() or target.name in shell:
        raise NotFoundError(f"no static file {path!r}")
    media = _TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0]
    cache = _YEAR if version == asset_version() else "no-cache"
    return FileResponse(
        target,
        media_type=media or "application/octet-stream",
        headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"},
    )
