"""The account registry, secrets, rules and the broker's account file, without a broker."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from pathlib import Path

import pytest

from edge.credentials import CredentialError, read_secret_file, write_secret_file
from identity.accounts import Account, AccountError, AccountKind, ServiceRole, device_username
from identity.broker_config import DEBIAN, render
from identity.dynsec import account_file
from identity.grants import Action, allows, topic_matches
from identity.registry import AccountExistsError, AccountNotFoundError, Registry
from identity.secrets import hash_secret, new_secret
from identity.service import AccountService, bootstrap, broker_file

REPO = Path(__file__).resolve().parents[2]


def test_secret_hashes_verify_and_match_mosquittos_own_format() -> None:
    """A hash checks its secret only, and is PBKDF2-SHA512 as the plugin computes it."""
    secret = new_secret()
    hashed = hash_secret(secret)
    assert hashed.matches(secret)
    assert not hashed.matches(secret + "x")
    assert type(hashed).decode(hashed.encode()) == hashed
    expected = hashlib.pbkdf2_hmac(
        "sha512", secret.encode(), base64.b64decode(hashed.salt_b64), hashed.iterations, 64
    )
    assert base64.b64decode(hashed.hash_b64) == expected


def test_registry_keeps_accounts_hashed_private_and_with_their_history(tmp_path: Path) -> None:
    """Only hashes are stored; the files are 0600; every change is recorded with who."""
    registry = Registry(tmp_path / "registry.sqlite3")
    service = AccountService(registry, None)
    issued = service.add_device("kawakami", "field-3", "pi-07", name="north", actor="alice")
    assert issued.account.username == "shinshu-edge/kawakami/field-3/pi-07"
    assert issued.account.client_id == issued.account.username
    with pytest.raises(AccountExistsError):
        service.add_device("kawakami", "field-3", "pi-07", actor="alice")
    rotated = service.rotate(issued.account.username, actor="bob")
    stored = registry.secret_hash(issued.account.username)
    assert stored is not None and stored.matches(rotated.secret)
    assert not stored.matches(issued.secret)
    # What an HTTP authentication backend would ask: only the current secret logs in.
    assert service.authenticate(issued.account.username, rotated.secret) == rotated.account
    assert service.authenticate(issued.account.username, issued.secret) is None
    service.revoke(issued.account.username, actor="carol")
    assert service.authenticate(issued.account.username, rotated.secret) is None
    assert registry.secret_hash(issued.account.username) is None
    assert not service.device("kawakami", "field-3", "pi-07").active
    history = [(e.action, e.actor) for e in registry.events(issued.account.username)]
    assert history == [("add", "alice"), ("rotate", "bob"), ("revoke", "carol")]
    # Registered again after a revocation: a new account under the same name.
    again = service.add_device("kawakami", "field-3", "pi-07", actor="alice")
    assert service.device("kawakami", "field-3", "pi-07").active
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for secret in (issued.secret, rotated.secret, again.secret):
        assert secret.encode() not in raw
    for path in tmp_path.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    with pytest.raises(AccountNotFoundError):
        service.rotate(device_username("kawakami", "field-3", "nope"), actor="x")
    registry.close()


@pytest.mark.parametrize("bad", ["", "a/b", "a+b", "#", "x" * 129, "tab\there"])
def test_device_ids_that_cannot_be_topics_are_refused(bad: str) -> None:
    """An id that would break a topic level or a store tag is refused with the reason."""
    with pytest.raises(AccountError):
        device_username("t", "s", bad)


def test_topic_matching_follows_mqtt_and_never_widens_a_grant() -> None:
    """`+` one level, `#` the rest; a wildcard subscription needs a wildcard grant."""
    assert topic_matches("shinshu/v1/#", "shinshu/v1/a/b/c/up")
    assert topic_matches("shinshu/v1/#", "shinshu/v1/#")
    assert topic_matches("shinshu/v1/+/+/+/config", "shinshu/v1/t/s/d/config")
    assert not topic_matches("shinshu/v1/+/+/+/config", "shinshu/v1/t/s/d/up")
    assert not topic_matches("shinshu/v1/t/s/d/up", "shinshu/v1/t/s/+/up")
    assert not topic_matches("shinshu/v1/t/s/d/up", "shinshu/v1/t/s/d/up/more")
    assert not topic_matches("shinshu/v1/+/+/+/up", "shinshu/v1/#")


def test_service_rules_are_least_privilege() -> None:
    """Each service may do its job and nothing else; a revoked account may do nothing."""

    def service(role: ServiceRole) -> Account:
        return Account.for_service(role, f"x-{role.value}", name="", created_ms=0)

    ingest, api = service(ServiceRole.INGEST), service(ServiceRole.API)
    alerts, monitor = service(ServiceRole.ALERTS), service(ServiceRole.MONITOR)
    control = service(ServiceRole.CONTROL)
    up, config = "shinshu/v1/t/s/d/up", "shinshu/v1/t/s/d/config"
    assert allows(ingest, Action.SUBSCRIBE, "$share/g/shinshu/v1/#")
    assert allows(ingest, Action.PUBLISH, "shinshu/deadletter/t")
    assert allows(ingest, Action.PUBLISH, "shinshu/v1/t/s/d/ack")
    assert not allows(ingest, Action.PUBLISH, up)
    assert not allows(ingest, Action.PUBLISH, config)
    assert allows(api, Action.PUBLISH, config)
    assert not any(allows(api, Action.PUBLISH, t) for t in (up, "shinshu/deadletter/t"))
    assert not allows(api, Action.SUBSCRIBE, "shinshu/#")
    assert allows(alerts, Action.SUBSCRIBE, "shinshu/v1/+/+/+/up")
    assert not allows(alerts, Action.SUBSCRIBE, "shinshu/v1/#")
    assert allows(monitor, Action.SUBSCRIBE, "shinshu/deadletter/#")
    assert not allows(monitor, Action.PUBLISH, up)
    assert allows(control, Action.PUBLISH, "$CONTROL/dynamic-security/v1")
    assert not allows(control, Action.SUBSCRIBE, "shinshu/v1/#")
    assert not allows(ingest, Action.SUBSCRIBE, "$SYS/broker/uptime")
    device = Account.for_device("t", "s", "d", name="", created_ms=0)
    assert allows(device, Action.PUBLISH, up)
    revoked = Account(**{**_fields(device), "revoked_ms": 1})
    assert not allows(revoked, Action.PUBLISH, up)


def _fields(account: Account) -> dict[str, object]:
    return {name: getattr(account, name) for name in Account.__slots__}


def test_bootstrap_makes_service_accounts_once_and_an_account_file(tmp_path: Path) -> None:
    """Service accounts with 0600 secrets; a second run keeps them; devices are in the file."""
    registry = Registry(tmp_path / "registry.sqlite3")
    secrets = tmp_path / "secrets"
    first = bootstrap(registry, secrets, actor="init")
    names = {c["username"] for c in first["clients"]}  # type: ignore[union-attr]
    assert names == {
        "shinshu-ingest",
        "shinshu-alerts",
        "shinshu-api",
        "shinshu-control",
        "shinshu-monitor",
    }
    for name in names:
        path = secrets / f"{name}.secret"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        hashed = registry.secret_hash(name)
        assert hashed is not None and hashed.matches(read_secret_file(path))
    before = {n: (secrets / f"{n}.secret").read_text() for n in names}
    AccountService(registry, None).add_device("t", "s", "d", actor="x")
    second = bootstrap(registry, secrets, services=[(ServiceRole.INGEST, "ingest-2")], actor="i")
    assert {n: (secrets / f"{n}.secret").read_text() for n in names} == before
    clients = {c["username"]: c for c in second["clients"]}  # type: ignore[union-attr]
    assert {"ingest-2", "shinshu-edge/t/s/d"} <= set(clients)
    assert all(c["clientid"] == c["username"] for c in clients.values())
    assert second == broker_file(registry)
    assert json.loads(json.dumps(second)) == second
    # The file never admits anyone by default.
    assert second["defaultACLAccess"]["publishClientSend"] is False  # type: ignore[index]
    assert second["defaultACLAccess"]["subscribe"] is False  # type: ignore[index]
    revoked = AccountService(registry, None)
    revoked.revoke("shinshu-edge/t/s/d", actor="x")
    assert "shinshu-edge/t/s/d" not in {
        c["username"]
        for c in broker_file(registry)["clients"]  # type: ignore[union-attr]
    }
    assert account_file([])["clients"] == []
    registry.close()


def test_the_shipped_broker_configuration_is_the_one_the_code_renders() -> None:
    """deploy/mosquitto/mosquitto.conf is `render(DEBIAN)`: tests run what is shipped."""
    shipped = (REPO / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
    assert shipped == render(DEBIAN)
    for line in ("allow_anonymous false", "persistence true", "per_listener_settings false"):
        assert line in shipped.splitlines()
    assert any(line.startswith("max_queued_messages ") for line in shipped.splitlines())
    assert "listener 8883" in shipped and "allow_anonymous true" not in shipped


def test_secret_files_readable_by_others_are_refused(tmp_path: Path) -> None:
    """As ssh does for keys: 0600 is read, 0640 and 0644 are refused with the reason."""
    path = write_secret_file(tmp_path / "s.secret", "abc")
    assert read_secret_file(path) == "abc"
    for mode in (0o640, 0o644, 0o604):
        path.chmod(mode)
        with pytest.raises(CredentialError, match="group or others"):
            read_secret_file(path)
    path.chmod(0o600)
    path.write_text("")
    with pytest.raises(CredentialError, match="empty"):
        read_secret_file(path)
    with pytest.raises(CredentialError, match="cannot read"):
        read_secret_file(tmp_path / "missing")


def test_accounts_kinds_are_what_they_say() -> None:
    """A device account names its tenant, site and device; a service account has a role."""
    device = Account.for_device("t", "s", "d", name="", created_ms=0)
    assert device.kind is AccountKind.DEVICE and device.role is None
    service = Account.for_service(ServiceRole.API, "api-2", name="", created_ms=0)
    assert service.kind is AccountKind.SERVICE and service.tenant is None
