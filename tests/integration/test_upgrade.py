"""Files of the previous release open after the upgrade; files of a newer release are refused.

The fixtures (tests/data/upgrade/release-1) were written by the release before database files
carried schema versions; each test works on a copy.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import run_shinshu

from dashboard.grants import GrantStore
from dashboard.keys import KeyStore, Role
from edge.schema import SchemaVersionError
from edge.spool import Spool, SpoolError
from identity.registry import Registry
from models.registry import ModelRegistry, RegistryError
from notify.outbox import Outbox, OutboxError
from notify.subscriptions import Subscriptions
from storage.sqlite.store import SqliteStore

RELEASE_1 = Path(__file__).resolve().parent.parent / "data" / "upgrade" / "release-1"
EXPECTED: dict[str, Any] = json.loads((RELEASE_1 / "expected.json").read_text())


@pytest.fixture
def old(tmp_path: Path) -> Path:
    """A copy of the previous release's files."""
    folder = tmp_path / "release-1"
    shutil.copytree(RELEASE_1, folder)
    return folder


def _version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def test_the_old_spool_keeps_its_readings_and_its_batch_in_flight(old: Path) -> None:
    """40 readings, the claimed batch of 25 still to resend; then it works as a new one."""
    path = old / "spool.sqlite3"
    assert _version(path) == 0
    spool = Spool(path)
    try:
        batches = spool.unacked()
        expected = EXPECTED["spool"]
        assert [(b.seq, len(b.readings)) for b in batches] == [
            (expected["claimed_batch"]["seq"], expected["claimed_batch"]["readings"])
        ]
        assert spool.stats().readings == expected["readings"]
        assert spool.ack(batches[0].seq) == 25
        assert spool.stats().readings == expected["readings"] - 25
    finally:
        spool.close()
    assert _version(path) == 1


def test_the_old_key_store_keeps_every_key_valid(old: Path) -> None:
    """The admin and researcher tokens still authenticate; the revoked key stays revoked."""
    store = KeyStore(old / "api_keys.sqlite3")
    try:
        keys = EXPECTED["keys"]
        admin = store.authenticate(keys["admin"]["token"])
        researcher = store.authenticate(keys["researcher"]["token"])
        assert admin is not None and admin.role is Role.ADMIN and admin.id == keys["admin"]["id"]
        assert researcher is not None and list(researcher.sites) == keys["researcher"]["sites"]
        revoked = store.get(keys["revoked"]["id"])
        assert revoked is not None and not revoked.active
    finally:
        store.close()
    assert _version(old / "api_keys.sqlite3") == 1


def test_the_old_device_registry_keeps_the_device_and_its_secret(old: Path) -> None:
    """The device account is there, bound as before, and its secret still matches."""
    registry = Registry(old / "registry.sqlite3")
    try:
        device = EXPECTED["registry"]["device"]
        account = registry.get(device["username"])
        assert account is not None
        assert (account.tenant, account.site, account.device) == (
            device["tenant"],
            device["site"],
            device["device"],
        )
        stored = registry.secret_hash(device["username"])
        assert stored is not None and stored.matches(device["secret"])
        assert not stored.matches(device["secret"] + "x")
    finally:
        registry.close()


def test_the_old_model_registry_lists_and_loads_its_model(old: Path) -> None:
    """Version 1 of the fixture model is listed as good and loads with its weights."""
    from models.registry import Codec

    registry = ModelRegistry(old / "models")
    [meta] = registry.versions("fixture")
    assert (meta.version, meta.status.value) == (1, "good")
    codec: Codec[list[float]] = Codec(
        encode=lambda m: m, decode=lambda s: [float(w) for w in s["weights"]], trusted=()
    )
    assert registry.load(meta, codec) == [1.5, 2.5, 3.5]


def test_a_model_of_a_newer_format_is_refused_naming_both(old: Path) -> None:
    """meta.json of format 2 against a release reading format 1: a clear refusal."""
    meta_path = old / "models" / "fixture" / "1" / "meta.json"
    document = json.loads(meta_path.read_text())
    document["format"] = 2
    meta_path.write_text(json.dumps(document))
    with pytest.raises(RegistryError, match=r"format 2 .*newer.* up to 1"):
        ModelRegistry(old / "models").meta("fixture", 1)


OPENERS: dict[str, tuple[Callable[[Path], object], type[Exception]]] = {
    "spool": (Spool, SpoolError),
    "API key store": (KeyStore, SchemaVersionError),
    "research grant store": (GrantStore, SchemaVersionError),
    "device registry": (Registry, SchemaVersionError),
    "notification store (outbox)": (Outbox, OutboxError),
    "notification store (subscriptions)": (Subscriptions, SchemaVersionError),
    "embedded reading store": (SqliteStore, SchemaVersionError),
}


@pytest.mark.parametrize("name", sorted(OPENERS))
def test_a_file_of_a_future_schema_is_refused_untouched(tmp_path: Path, name: str) -> None:
    """Each store refuses a file one version ahead, naming both versions, and writes nothing."""
    opener, error = OPENERS[name]
    path = tmp_path / "future.sqlite3"
    made = opener(path)
    made.close()  # type: ignore[attr-defined]
    db = sqlite3.connect(path)
    current = int(db.execute("PRAGMA user_version").fetchone()[0])
    assert current >= 1
    db.execute(f"PRAGMA user_version = {current + 1}")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    before = path.read_bytes()
    with pytest.raises(error) as raised:
        opener(path)
    message = str(raised.value)
    assert f"version {current + 1}" in message and f"up to {current}" in message
    assert path.read_bytes() == before


_shinshu = run_shinshu


def test_shinshu_migrate_reports_each_file_and_refuses_a_newer_one(old: Path) -> None:
    """`shinshu migrate` brings the old files to version 1 and says so; a newer file fails it."""
    done = _shinshu(old, "migrate", "--spool", str(old / "spool.sqlite3"))
    assert done.returncode == 0, done.stderr
    assert f"API key store: {old / 'api_keys.sqlite3'} schema version 0 → 1" in done.stdout
    assert "device registry" in done.stdout and "edge spool" in done.stdout
    assert _version(old / "registry.sqlite3") == 1
    db = sqlite3.connect(old / "registry.sqlite3")
    db.execute("PRAGMA user_version = 7")
    db.close()
    refused = _shinshu(old, "migrate")
    assert refused.returncode == 1
    assert "version 7" in refused.stdout and "up to 1" in refused.stdout
    # The other files were still looked at.
    assert "API key store" in refused.stdout
