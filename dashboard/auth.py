"""Who may do what: the role → permission matrix and the checks every route runs."""

from __future__ import annotations

from enum import StrEnum

from dashboard.errors import DashboardError
from dashboard.keys import ApiKey, Role


class AuthenticationError(DashboardError):
    """No key, or a key that is unknown, malformed or revoked (HTTP 401)."""


class PermissionDeniedError(DashboardError):
    """A valid key asked for something its tenant or role does not allow (HTTP 403)."""


class Permission(StrEnum):
    """An action a route requires; each route declares exactly one."""

    READ = "read"
    EXPORT = "export"
    ACKNOWLEDGE_ALERTS = "acknowledge_alerts"
    CONFIGURE_DEVICES = "configure_devices"
    MANAGE_DEVICES = "manage_devices"
    MANAGE_KEYS = "manage_keys"
    # Register, change and retire sites, fields, stands and bins; enter and void work records.
    MANAGE_ASSETS = "manage_assets"


_OPERATOR = frozenset(
    {
        Permission.READ,
        Permission.ACKNOWLEDGE_ALERTS,
        Permission.CONFIGURE_DEVICES,
        Permission.MANAGE_ASSETS,
    }
)

# Researchers export and nothing else: they never browse live readings or device state.
PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.OPERATOR: _OPERATOR,
    Role.ADMIN: _OPERATOR | {Permission.MANAGE_DEVICES, Permission.MANAGE_KEYS},
    Role.RESEARCHER: frozenset({Permission.EXPORT}),
}


def authorize(key: ApiKey, tenant: str, permission: Permission) -> None:
    """Raise PermissionDeniedError unless `key` may do `permission` within `tenant`."""
    if key.tenant != tenant:
        raise PermissionDeniedError("this key belongs to another tenant")
    if permission not in PERMISSIONS[key.role]:
        raise PermissionDeniedError(f"the {key.role.value} role may not {permission.value}")


def allowed_sites(key: ApiKey, requested: list[str]) -> list[str]:
    """The sites an export may cover: a researcher only those its tenant shared with it."""
    if key.role is not Role.RESEARCHER:
        return requested
    if not requested:
        return list(key.sites)
    refused = sorted(set(requested) - set(key.sites))
    if refused:
        raise PermissionDeniedError(f"sites not shared with this key: {', '.join(refused)}")
    return requested
