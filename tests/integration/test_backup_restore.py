"""Back up a running server while a fleet publishes, restore it into fresh services.

Source: a broker, InfluxDB and ingest, the simulated fleet publishing; the data folder holds the
device registry, the API keys and a model. Target: a new InfluxDB and an empty data folder (a new
machine), then a new broker started from the accounts the restore wrote.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from support import (
    IngestFactory,
    Services,
    count_points,
    make_influx,
    run_shinshu,
    service_env,
    wait_until,
)

from dashboard.keys import KeyStore, Role
from edge.credentials import write_secret_file
from models.registry import Codec, ModelRegistry
from shinshu.localservices import LocalInfluxDB, LocalMosquitto, free_port
from storage.assets import FieldAsset, read_assets, write_assets
from storage.influx.client import InfluxStore
from storage.records import RecordKind, WorkRecord, read_records, write_records

pytestmark = pytest.mark.integration

TENANT, SITE = "backup-test", "s"
# About 13 s of publishing (one reading a message): the backup runs in the middle of it.
FLEET = ("--devices", "3", "--readings", "4000", "--batch-size", "1", "--rate", "300")
CODEC: Codec[list[float]] = Codec(
    encode=lambda m: {"weights": m}, decode=lambda s: [float(w) for w in s["weights"]], trusted=()
)


def every_point(store: InfluxStore) -> set[tuple[Any, ...]]:
    """Every point of every measurement: (measurement, tags, time, values)."""
    points: set[tuple[Any, ...]] = set()
    for result in store.query("SELECT * FROM /.*/ GROUP BY *"):
        for series in result.get("series", []):
            tags = tuple(sorted(series.get("tags", {}).items()))
            for row in series["values"]:
                points.add((series["name"], tags, *(json.dumps(v) for v in row)))
    return points


def connack(port: int, username: str, secret: str) -> int:
    """The CONNACK reason code the broker answers for this login."""
    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=username, protocol=MQTTProtocolVersion.MQTTv5
    )
    client.username_pw_set(username, secret)
    answered = threading.Event()
    codes: list[int] = []

    def on_connect(_c: object, _u: object, _f: object, reason: Any, _p: object) -> None:
        codes.append(reason.value)
        answered.set()

    client.on_connect = on_connect
    client.reconnect_delay_set(60, 60)
    client.connect("127.0.0.1", port, keepalive=10)
    client.loop_start()
    try:
        assert answered.wait(5), "no CONNACK"
    finally:
        client.disconnect()
        client.loop_stop()
    return codes[0]


def test_backup_while_publishing_restores_everything_into_fresh_services(
    own_services: Services, database: str, ingest_factory: IngestFactory, tmp_path: Path
) -> None:
    """Every reading stored before the backup, every key, device, asset, record and model."""
    services = own_services
    data = services.broker.folder
    store = make_influx(services.influx, database)
    backup_address = f"127.0.0.1:{services.influx.rpc_port}"
    ingest_factory(services, database, data_dir=str(data))
    fleet = subprocess.Popen(
        [sys.executable, "-m", "shinshu.cli", "simulate", *FLEET],
        env=service_env(services, database, control=True, tenant=TENANT, site=SITE),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    keys = KeyStore(data / "api_keys.sqlite3")
    key, token = keys.create(TENANT, Role.ADMIN, name="backup test")
    keys.close()
    issued = services.accounts.issue_devices([(TENANT, SITE, "pump-1")], actor="tests")
    device = issued[TENANT, SITE, "pump-1"]
    field = FieldAsset(SITE, "field-1", "pump-1", "apple", 1.5, plantings=("2026-04-01",))
    write_assets(store, TENANT, [field])
    record = WorkRecord(
        SITE, "field-1", RecordKind.HARVEST, 1_780_000_000_000, record="h1", quantity=420.0
    )
    write_records(store, TENANT, [record])
    models = ModelRegistry.for_tenant(data, TENANT)
    models.register(
        "fixture", [1.5, 2.5], CODEC, window=(dt.date(2026, 1, 1), dt.date(2026, 6, 1)), metrics={}
    )
    wait_until(lambda: count_points(store) > 500, 60, "the fleet's first points")

    before = every_point(store)
    made = run_shinshu(
        data,
        "backup",
        "--out",
        str(tmp_path / "backup"),
        influx_url=services.influx.url,
        influx_db=database,
        influx_backup_address=backup_address,
    )
    assert made.returncode == 0, made.stderr
    still_publishing = fleet.poll() is None
    output, _ = fleet.communicate(timeout=240)
    assert fleet.returncode == 0, output
    assert still_publishing, "the fleet finished before the backup: nothing ran concurrently"
    assert count_points(store) > len(before), "no point came after the backup began"
    assert oct((tmp_path / "backup").stat().st_mode & 0o777) == "0o700"

    # A new machine: a fresh InfluxDB, an empty data folder.
    new = tmp_path / "new"
    new.mkdir()
    influx = LocalInfluxDB("influxd", new, free_port())
    influx.start()
    broker: LocalMosquitto | None = None
    try:
        target = {
            "influx_url": influx.url,
            "influx_db": database,
            "influx_backup_address": f"127.0.0.1:{influx.rpc_port}",
        }
        accounts = new / "data" / "dynamic-security.json"
        done = run_shinshu(
            new / "data",
            "restore",
            str(tmp_path / "backup"),
            "--accounts-file",
            str(accounts),
            **target,
        )
        assert done.returncode == 0, done.stderr
        restored = make_influx(influx, database)
        assert before <= every_point(restored)
        assert read_assets(restored, TENANT).fields[SITE] == [field]
        assert [r.quantity for r in read_records(restored, TENANT)] == [420.0]
        restored_keys = KeyStore(new / "data" / "api_keys.sqlite3")
        found = restored_keys.authenticate(token)
        restored_keys.close()
        assert found is not None and found.id == key.id
        [meta] = ModelRegistry.for_tenant(new / "data", TENANT).versions("fixture")
        assert ModelRegistry.for_tenant(new / "data", TENANT).load(meta, CODEC) == [1.5, 2.5]
        # The broker of the new machine knows the device by the secret it was given before.
        broker = LocalMosquitto("mosquitto", new / "data", free_port(), tls_port=free_port())
        broker.start()
        assert connack(broker.port, device.account.username, device.secret) == 0
        assert connack(broker.port, device.account.username, "wrong") != 0
        # Restoring again over the restored state is refused unless asked to replace it.
        again = run_shinshu(new / "data", "restore", str(tmp_path / "backup"), **target)
        assert again.returncode == 1 and "--replace" in again.stderr
    finally:
        if broker is not None:
            broker.stop()
        influx.stop()


def test_a_restore_into_influxdb_with_accounts_gives_the_platform_its_rights_back(
    tmp_path: Path,
) -> None:
    """Auth on both sides (as installed): the restored database is the account's again."""
    admin_file, platform_file = tmp_path / "admin.secret", tmp_path / "platform.secret"
    write_secret_file(admin_file, "admin-pw-1234")
    write_secret_file(platform_file, "platform-pw-5678")
    platform = ("shinshu", "platform-pw-5678")
    servers = []
    for name in ("old", "new"):
        (tmp_path / name).mkdir()
        server = LocalInfluxDB("influxd", tmp_path / name, free_port(), auth=True)
        server.start()
        servers.append(server)
    old, new = servers
    try:

        def settings(server: LocalInfluxDB) -> dict[str, str]:
            return {
                "influx_url": server.url,
                "influx_db": "shinshu",
                "influx_user": "shinshu",
                "influx_password_file": str(platform_file),
                "influx_backup_address": f"127.0.0.1:{server.rpc_port}",
            }

        for server, name in ((old, "old"), (new, "new")):
            init = run_shinshu(
                tmp_path / name / "data",
                "store",
                "init",
                "--admin-password-file",
                str(admin_file),
                **settings(server),
            )
            assert init.returncode == 0, init.stderr
        lines = b"m,site=a v=1 1700000000000000000\nm,site=b v=2 1700000001000000000"
        wrote = httpx.post(
            f"{old.url}/write", params={"db": "shinshu"}, content=lines, auth=platform
        )
        assert wrote.status_code == 204, wrote.text
        made = run_shinshu(
            tmp_path / "old" / "data", "backup", "--out", str(tmp_path / "b"), **settings(old)
        )
        assert made.returncode == 0, made.stderr
        refused = run_shinshu(
            tmp_path / "new" / "data", "restore", str(tmp_path / "b"), **settings(new)
        )
        assert refused.returncode == 1 and "--admin-password-file" in refused.stderr
        done = run_shinshu(
            tmp_path / "new" / "data",
            "restore",
            str(tmp_path / "b"),
            "--admin-password-file",
            str(admin_file),
            **settings(new),
        )
        assert done.returncode == 0, done.stderr
        assert "admin-pw-1234" not in done.stdout + done.stderr
        answer = httpx.post(
            f"{new.url}/query",
            data={"q": 'SELECT "v" FROM "m" GROUP BY "site"', "db": "shinshu"},
            auth=platform,
        )
        assert answer.status_code == 200, answer.text
        values = [s["values"][0][1] for s in answer.json()["results"][0]["series"]]
        assert values == [1, 2]
    finally:
        for server in servers:
            server.stop()
