"""Broker accounts: one per device and one per service instance, each with its own client id."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.errors import InvalidInputError
from edge.protocol import ProtocolError, check_id
from identity.errors import IdentityError

# A device's MQTT username and client id; the agent builds the same one from its ids.
DEVICE_PREFIX = "shinshu-edge"


class AccountKind(StrEnum):
    """A device publishes its own readings; a service is part of the platform."""

    DEVICE = "device"
    SERVICE = "service"


class ServiceRole(StrEnum):
    """What a service account is for; each has the least rights that job needs."""

    INGEST = "ingest"
    ALERTS = "alerts"
    API = "api"
    CONTROL = "control"
    # Watches the traffic (readings, status, dead letters) and can send nothing.
    MONITOR = "monitor"


# The account each service uses when nothing else is configured.
DEFAULT_SERVICE_USERNAMES: dict[ServiceRole, str] = {
    ServiceRole.INGEST: "shinshu-ingest",
    ServiceRole.ALERTS: "shinshu-alerts",
    ServiceRole.API: "shinshu-api",
    ServiceRole.CONTROL: "shinshu-control",
    ServiceRole.MONITOR: "shinshu-monitor",
}


class AccountError(IdentityError, InvalidInputError, ValueError):
    """An account id or request is invalid; the text says why and `field` which input."""

    def __init__(self, message: str, field: str = "body") -> None:
        """`field` names the input at fault (the whole request body by default)."""
        super().__init__(message, field)


def device_username(tenant: str, site: str, device: str) -> str:
    """The username (and client id) of a device: unambiguous, since ids never contain '/'."""
    for value, what in ((tenant, "tenant"), (site, "site"), (device, "device")):
        try:
            check_id(value, what)
        except ProtocolError as exc:
            # The tenant comes from the caller's key, not from the request.
            raise AccountError(str(exc), "body" if what == "tenant" else what) from exc
    return f"{DEVICE_PREFIX}/{tenant}/{site}/{device}"


def check_service_username(username: str) -> str:
    """`username` if it can name a service account (not a device's name), else AccountError."""
    try:
        check_id(username, "account name")
    except ProtocolError as exc:
        raise AccountError(str(exc)) from exc
    return username


@dataclass(frozen=True, slots=True)
class Account:
    """A broker account as the registry keeps it (never with its secret)."""

    username: str
    kind: AccountKind
    # For a service: its job. A device's role is always the device role.
    role: ServiceRole | None
    tenant: str | None
    site: str | None
    device: str | None
    name: str
    created_ms: int
    rotated_ms: int | None = None
    revoked_ms: int | None = None

    @property
    def client_id(self) -> str:
        """The only client id this account may connect with: its username."""
        return self.username

    @property
    def active(self) -> bool:
        """Whether the account may connect."""
        return self.revoked_ms is None

    @classmethod
    def for_device(
        cls, tenant: str, site: str, device: str, *, name: str, created_ms: int
    ) -> Account:
        """A new device account."""
        return cls(
            device_username(tenant, site, device),
            AccountKind.DEVICE,
            None,
            tenant,
            site,
            device,
            name,
            created_ms,
        )

    @classmethod
    def for_service(
        cls, role: ServiceRole, username: str, *, name: str, created_ms: int
    ) -> Account:
        """A new service account."""
        return cls(
            check_service_username(username),
            AccountKind.SERVICE,
            role,
            None,
            None,
            None,
            name,
            created_ms,
        )
