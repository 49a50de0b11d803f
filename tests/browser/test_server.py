"""What the server gives the UI: the shell, versioned static files with long cache lifetimes,
nothing outside the static folder, `whoami` for any valid key, and no off-site resources."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from browser.ui_support import UiEnv

from dashboard.keys import Role
from dashboard.routes.ui import asset_version

pytestmark = pytest.mark.integration

STATIC = Path(__file__).resolve().parents[2] / "dashboard" / "static"


def test_shell_is_not_cached_and_names_versioned_assets(ui_env: UiEnv) -> None:
    """`/` is revalidated every time and refers to assets under the current version."""
    response = httpx.get(f"{ui_env.url}/")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    assert "default-src 'self'" in response.headers["content-security-policy"]
    version = asset_version()
    assert f"/static/{version}/js/app.js" in response.text
    assert "{{" not in response.text
    features = re.search(r'name="shinshu-features" content="([^"]*)"', response.text)
    assert features is not None
    for name in ("whoami", "alerts", "acknowledge", "bins", "stands", "rotation"):
        assert f"&quot;{name}&quot;" in features.group(1), name


def test_versioned_assets_are_cached_for_a_year(ui_env: UiEnv) -> None:
    """Current-version files are immutable for a year; an old version is revalidated."""
    version = asset_version()
    for path, media in (
        ("js/app.js", "text/javascript"),
        ("app.css", "text/css"),
        ("vendor/uplot/uPlot.iife.min.js", "text/javascript"),
    ):
        response = httpx.get(f"{ui_env.url}/static/{version}/{path}")
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith(media), path
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    stale = httpx.get(f"{ui_env.url}/static/000000000000/js/app.js")
    assert stale.status_code == 200
    assert stale.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    "path", ["../app.py", "..%2Fapp.py", "js/../../keys.py", "nope.js", "index.html", "js"]
)
def test_nothing_outside_the_static_files_is_served(ui_env: UiEnv, path: str) -> None:
    """Traversal, missing files, folders and the raw shell template are 404."""
    # (A client may normalise `..` itself and be redirected to a path that does not exist.)
    response = httpx.get(f"{ui_env.url}/static/{asset_version()}/{path}", follow_redirects=True)
    assert response.status_code == 404, response.text


@pytest.mark.parametrize("role", list(Role))
def test_whoami_tells_each_key_its_own_tenant_and_role(ui_env: UiEnv, role: Role) -> None:
    """Any valid key learns its tenant, role and shared sites; no key gets 401."""
    token = ui_env.token(role)
    response = httpx.get(f"{ui_env.url}/api/v1/whoami", headers={"X-API-Key": token})
    assert response.status_code == 200
    body = response.json()
    assert body["tenant"] == "alpha"
    assert body["role"] == role.value
    assert body["key_id"] == token.split("_")[1]
    assert token.split("_", 2)[2] not in response.text
    assert (body["sites"] != []) is (role is Role.RESEARCHER)
    assert httpx.get(f"{ui_env.url}/api/v1/whoami").status_code == 401
    refused = httpx.get(f"{ui_env.url}/api/v1/whoami", headers={"X-API-Key": "shk_x_y"})
    assert refused.status_code == 401


def test_ui_loads_nothing_from_other_hosts() -> None:
    """No CDN: scripts, styles and images are all served by this server (offline installs).

    A link (`<a href>`, such as the map library's credit) loads nothing and is allowed.
    """
    pattern = re.compile(
        r"""(?:src|(?<!<a )href)\s*=\s*["']https?:"""
        r"""|import\s*\(?\s*["']https?:|url\(\s*["']?https?:"""
    )
    for path in [*STATIC.rglob("*.html"), *STATIC.rglob("*.js"), *STATIC.rglob("*.css")]:
        assert not pattern.search(path.read_text(encoding="utf-8")), path
    licence = (STATIC / "vendor" / "uplot" / "LICENSE").read_text()
    assert "MIT" in licence or "Permission is hereby granted" in licence
    assert "BSD" in (STATIC / "vendor" / "leaflet" / "LICENSE").read_text()
