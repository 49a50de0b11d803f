"""The overview's map: drawn from the registry's coordinates when tiles load, the list otherwise."""

from __future__ import annotations

import dataclasses
import struct
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from browser.ui_support import Browse, UiEnv, wait_js
from playwright.sync_api import Browser

from dashboard.app import create_app
from dashboard.keys import Role
from shinshu.localservices import free_port
from shinshu.webthread import serve_in_thread

pytestmark = pytest.mark.integration


def _png() -> bytes:
    """A 1×1 green PNG, as a tile server would answer."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x40\xa0\x40")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


class _Tiles(BaseHTTPRequestHandler):
    requests: list[str] = []  # noqa: RUF012 - shared by the server's handler instances

    def do_GET(self) -> None:
        self.requests.append(self.path)
        body = _png()
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        return


def _sites(env: UiEnv) -> list[dict[str, Any]]:
    """Every site of tenant alpha as the API lists it (other tests of the session may add some)."""
    response = httpx.get(
        f"{env.url}/api/v1/tenants/alpha/sites", headers={"X-API-Key": env.token(Role.VIEWER)}
    )
    response.raise_for_status()
    sites: list[dict[str, Any]] = response.json()
    assert len(sites) >= len(env.sites)
    return sites


@pytest.fixture(scope="module")
def tile_server() -> Iterator[str]:
    """A real HTTP tile server on a free port; its URL template."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Tiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tiles/{{z}}/{{x}}/{{y}}.png"
    server.shutdown()
    thread.join(5)


def _served(ui_env: UiEnv, tiles: str) -> Iterator[UiEnv]:
    """The same app and data with `tiles` as the map's tile source."""
    settings = dataclasses.replace(ui_env.app.state.context.settings, map_tiles=tiles)
    port = free_port()
    server, thread = serve_in_thread(create_app(settings), port, timeout_s=20, log_level="warning")
    assert server.started
    yield dataclasses.replace(ui_env, url=f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def mapped(ui_env: UiEnv, tile_server: str) -> Iterator[UiEnv]:
    """The app with a reachable tile server."""
    yield from _served(ui_env, tile_server)


@pytest.fixture(scope="module")
def unreachable(ui_env: UiEnv) -> Iterator[UiEnv]:
    """The app with tiles from a port nothing listens on (an installation without Internet)."""
    yield from _served(ui_env, f"http://127.0.0.1:{free_port()}/{{z}}/{{x}}/{{y}}.png")


@pytest.mark.parametrize(("lang", "viewport"), [("ja", "phone"), ("en", "desktop")])
def test_the_map_shows_every_registered_site_when_tiles_load(
    mapped: UiEnv, browser: Browser, lang: str, viewport: str
) -> None:
    """A marker per site with coordinates, tiles from the configured server, the list kept."""
    browse = Browse(mapped, browser)
    try:
        probe = browse.open("/", role=Role.VIEWER, lang=lang, viewport=viewport)
        page = probe.page
        wait_js(page, "document.querySelector('#site-map')?.dataset.tiles === 'loaded'")
        every = _sites(mapped)
        located = [s for s in every if s["latitude"] is not None]
        # The three simulated sites, and any another test of the session registered.
        assert set(mapped.sites.values()) <= {s["site"] for s in located}
        assert page.locator("#site-map").get_attribute("data-sites") == str(len(located))
        assert page.locator("#site-map path.leaflet-interactive").count() == len(located)
        assert page.locator("#sites li.site").count() == len(every)
        assert page.locator("#map-offline").is_hidden()
        assert _Tiles.requests, "no tile was asked for"
        assert not probe.console_errors, probe.console_errors
    finally:
        browse.close()


def test_without_reachable_tiles_the_sites_are_listed(unreachable: UiEnv, browser: Browser) -> None:
    """Tiles that never load: the map is taken away, a note says why, the list is all there."""
    browse = Browse(unreachable, browser)
    try:
        probe = browse.open("/", role=Role.VIEWER, lang="ja", viewport="phone", wait=False)
        page = probe.page
        wait_js(page, "document.querySelector('#map-offline')?.hidden === false", timeout_s=20)
        assert page.locator("#site-map").is_hidden()
        assert "地図を表示できません" in page.locator("#map-offline").inner_text()
        assert page.locator("#sites li.site").count() == len(_sites(unreachable))
    finally:
        browse.close()


def test_no_tile_source_means_no_map_and_no_tile_origin(ui_env: UiEnv, browse: Browse) -> None:
    """The default installation names no tile server: no map, and images only from itself."""
    response = httpx.get(f"{ui_env.url}/")
    assert "img-src 'self' data: blob:;" in response.headers["content-security-policy"]
    probe = browse.open("/", role=Role.VIEWER)
    assert probe.page.locator("#site-map").is_hidden()
    assert probe.page.locator("#map-offline").is_hidden()
    assert probe.page.locator("#sites li.site").count() == len(_sites(ui_env))


def test_the_tile_origin_is_allowed_only_when_configured(mapped: UiEnv, tile_server: str) -> None:
    """With a tile source the page may load images from that origin, and from no other."""
    policy = httpx.get(f"{mapped.url}/").headers["content-security-policy"]
    images = next(p for p in policy.split(";") if p.strip().startswith("img-src"))
    origin = tile_server.split("/tiles/", maxsplit=1)[0]
    assert images.split() == ["img-src", "'self'", "data:", "blob:", origin]
