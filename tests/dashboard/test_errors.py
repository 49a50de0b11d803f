"""The API turns the platform's errors into statuses by their kind, never by their wording."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.dashboard.conftest import ApiEnv

from core.errors import NotFoundError
from dashboard.keys import KeyNotFoundError, KeyStore, KeyStoreError, Role

pytestmark = pytest.mark.integration


def test_an_unknown_or_foreign_key_is_a_404(api_env: ApiEnv) -> None:
    """Revoking a key nobody has, or another tenant's, answers 404 with the store's reason."""
    admin = api_env.headers("alpha", Role.ADMIN)
    missing = api_env.client.delete("/api/v1/tenants/alpha/keys/no-such-key", headers=admin)
    assert missing.status_code == 404 and "no-such-key" in missing.json()["detail"]
    foreign = api_env.app.state.context.keys.list("beta")[0].id
    other = api_env.client.delete(f"/api/v1/tenants/alpha/keys/{foreign}", headers=admin)
    assert other.status_code == 404


def test_a_missing_key_is_both_a_key_store_error_and_a_not_found_error(tmp_path: Path) -> None:
    """Callers that catch KeyStoreError keep working; the web layer sees a NotFoundError."""
    store = KeyStore(tmp_path / "keys.sqlite3")
    try:
        with pytest.raises(KeyNotFoundError) as raised:
            store.revoke("nope")
    finally:
        store.close()
    assert isinstance(raised.value, KeyStoreError) and isinstance(raised.value, NotFoundError)
