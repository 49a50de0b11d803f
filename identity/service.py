"""Account changes as one step each: registry first (the truth), then the broker that enforces it.

A change the broker could not be told of stays marked pending in the registry and is retried
by `sync`; a revocation is never reported as done while the broker may still admit the device.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from core.errors import UnavailableError
from edge.credentials import write_secret_file
from identity.accounts import (
    DEFAULT_SERVICE_USERNAMES,
    Account,
    AccountKind,
    ServiceRole,
    device_username,
)
from identity.dynsec import BrokerControlError, account_file
from identity.errors import IdentityError
from identity.registry import AccountNotFoundError, Registry
from identity.secrets import hash_secret, new_secret

log = logging.getLogger(__name__)


class BrokerAccounts(Protocol):
    """What the registry needs from a broker that keeps accounts of its own (Mosquitto)."""

    def ensure_account(self, account: Account, secret: str) -> None:
        """Create the account, or reset it to this secret and its role."""

    def ensure_accounts(self, accounts: Sequence[tuple[Account, str]]) -> None:
        """`ensure_account` for many accounts at once."""

    def set_secret(self, username: str, secret: str) -> None:
        """Replace the account's secret and disconnect its sessions."""

    def remove_account(self, username: str) -> None:
        """Delete the account and disconnect its sessions."""

    def usernames(self) -> list[str]:
        """Every account the broker knows."""


class BrokerNotUpdatedError(IdentityError, UnavailableError):
    """The registry changed but the broker could not be told; `shinshu devices sync` retries."""


@dataclass(frozen=True, slots=True)
class Issued:
    """An account with its new secret: shown once, never stored."""

    account: Account
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What `sync` changed on the broker and what it could not repair."""

    removed: tuple[str, ...]
    unknown_removed: tuple[str, ...]
    # Registered and active, but missing on the broker: only a rotation can restore them.
    missing: tuple[str, ...]


class AccountService:
    """Registers, rotates and revokes accounts in the registry and on the broker."""

    def __init__(self, registry: Registry, broker: BrokerAccounts | None) -> None:
        """`broker` None: a broker that asks the registry itself (HTTP backend), or none yet."""
        self.registry = registry
        self._broker = broker

    def add_device(
        self, tenant: str, site: str, device: str, *, name: str = "", actor: str
    ) -> Issued:
        """Register a device and give it a broker account; its secret is in the answer only."""
        account = Account.for_device(tenant, site, device, name=name, created_ms=_now_ms())
        return self._add(account, actor)

    def add_service(
        self, role: ServiceRole, username: str, *, name: str = "", actor: str
    ) -> Issued:
        """Register a service account (e.g. a second ingest worker, with its own client id)."""
        account = Account.for_service(role, username, name=name, created_ms=_now_ms())
        return self._add(account, actor)

    def _add(self, account: Account, actor: str) -> Issued:
        secret = new_secret()
        self.registry.add(account, hash_secret(secret), actor=actor, pending=True)
        if self._broker is not None:
            try:
                self._broker.ensure_account(account, secret)
            except BrokerControlError as exc:
                # The secret is shown once; an account the broker never learnt is worthless.
                self.registry.revoke(account.username, actor=f"{actor} (broker refused)")
                self.registry.set_pending(account.username, False)
                raise BrokerNotUpdatedError(
                    f"the broker did not take the account {account.username}: {exc}"
                ) from exc
        self.registry.set_pending(account.username, False)
        return Issued(account, secret)

    def issue_devices(
        self, devices: Sequence[tuple[str, str, str]], *, actor: str
    ) -> dict[tuple[str, str, str], Issued]:
        """Fresh secrets for simulated devices: registered if new, rotated if registered."""
        issued: dict[tuple[str, str, str], Issued] = {}
        for tenant, site, device in devices:
            account = Account.for_device(
                tenant, site, device, name="simulated", created_ms=_now_ms()
            )
            secret = new_secret()
            known = self.registry.get(account.username)
            if known is not None and known.active:
                account = self.registry.rotate(account.username, hash_secret(secret), actor=actor)
            else:
                self.registry.add(account, hash_secret(secret), actor=actor, pending=True)
            issued[tenant, site, device] = Issued(account, secret)
        if self._broker is not None and issued:
            try:
                self._broker.ensure_accounts([(i.account, i.secret) for i in issued.values()])
            except BrokerControlError as exc:
                raise BrokerNotUpdatedError(f"the broker did not take the devices: {exc}") from exc
        for item in issued.values():
            self.registry.set_pending(item.account.username, False)
        return issued

    def authenticate(self, username: str, secret: str) -> Account | None:
        """The active account `username` if `secret` is its secret: an HTTP backend's login."""
        stored = self.registry.secret_hash(username)
        account = self.registry.get(username)
        if stored is None or account is None or not stored.matches(secret):
            return None
        return account

    def device(self, tenant: str, site: str, device: str) -> Account:
        """The registered device (revoked or not)."""
        found = self.registry.get(device_username(tenant, site, device))
        if found is None:
            raise AccountNotFoundError(f"no device {device!r} at site {site!r} in {tenant!r}")
        return found

    def devices(self, tenant: str) -> list[Account]:
        """The tenant's registered devices, oldest first."""
        return self.registry.list(tenant=tenant, kind=AccountKind.DEVICE)

    def rotate(self, username: str, *, actor: str) -> Issued:
        """A new secret for an active account; the old one stops working at once."""
        secret = new_secret()
        account = self.registry.rotate(username, hash_secret(secret), actor=actor)
        if self._broker is not None:
            try:
                self._broker.set_secret(username, secret)
            except BrokerControlError as exc:
                raise BrokerNotUpdatedError(
                    f"the new secret of {username} is registered, but the broker was not "
                    f"reached ({exc}); rotate again once it answers"
                ) from exc
        self.registry.set_pending(username, False)
        return Issued(account, secret)

    def revoke(self, username: str, *, actor: str) -> Account:
        """Revoke an account: the broker disconnects it and refuses it from now on."""
        account = self.registry.revoke(username, actor=actor)
        self._remove_from_broker(account)
        return account

    def _remove_from_broker(self, account: Account) -> None:
        if self._broker is None:
            self.registry.set_pending(account.username, False)
            return
        try:
            self._broker.remove_account(account.username)
        except BrokerControlError as exc:
            raise BrokerNotUpdatedError(
                f"{account.username} is revoked in the registry, but the broker was not reached "
                f"({exc}); run `shinshu devices sync` once it answers"
            ) from exc
        self.registry.set_pending(account.username, False)

    def sync(self) -> SyncReport:
        """Bring the broker in line with the registry: revoked and unknown accounts go."""
        if self._broker is None:
            return SyncReport((), (), ())
        removed = []
        for account in self.registry.pending():
            if not account.active:
                self._remove_from_broker(account)
                removed.append(account.username)
        known = {a.username: a for a in self.registry.list()}
        on_broker = set(self._broker.usernames())
        unknown = []
        for username in sorted(on_broker):
            account = known.get(username)
            if account is None or not account.active:
                self._broker.remove_account(username)
                unknown.append(username)
        missing = tuple(sorted(u for u, a in known.items() if a.active and u not in on_broker))
        return SyncReport(tuple(removed), tuple(unknown), missing)


def bootstrap(
    registry: Registry,
    secrets_dir: Path,
    *,
    services: Iterable[tuple[ServiceRole, str]] = (),
    actor: str,
) -> dict[str, object]:
    """First start of a broker: the control and service accounts, their secrets, the account file.

    Accounts that exist keep their secrets; missing ones are created and their secrets written to
    `secrets_dir/<username>.secret` (mode 0600) for the services to read. Returns the plugin's
    configuration holding every active account of the registry, devices included.
    """
    wanted = [(role, name) for role, name in DEFAULT_SERVICE_USERNAMES.items()]
    wanted += list(services)
    for role, username in wanted:
        existing = registry.get(username)
        if existing is not None and existing.active:
            continue
        secret = new_secret()
        account = Account.for_service(
            role, username, name=f"{role.value} service", created_ms=_now_ms()
        )
        registry.add(account, hash_secret(secret), actor=actor, pending=False)
        write_secret_file(secrets_dir / f"{username}.secret", secret)
    return broker_file(registry)


def broker_file(registry: Registry) -> dict[str, object]:
    """The plugin's configuration for every active account in the registry."""
    pairs = []
    for account in registry.list():
        secret = registry.secret_hash(account.username)
        if secret is not None:
            pairs.append((account, secret))
    return account_file(pairs)


def _now_ms() -> int:
    return int(time.time() * 1000)
