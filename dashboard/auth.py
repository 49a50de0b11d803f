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
    # Share sites with researcher accounts (approve, reject, revoke) and read their downloads.
    MANAGE_GRANTS = "manage_grants"
    # Threshold rules, and who is notified of which alerts (webhooks, e-mail, the outbox).
    MANAGE_ALERTS = "manage_alerts"
    # Register, change and retire sites, fields, stands and bins; enter and void work records.
    MANAGE_ASSETS = "manage_assets"
    # Opt a site in to (or out of) disaster sharing: its landslide level seen across tenants.
    SHARE_DISASTER = "share_disaster"
    # See every tenant's opted-in sites' landslide levels (and nothing else of any tenant).
    VIEW_SHARED_DISASTER = "view_shared_disaster"


_OPERATOR = frozenset(
    {
        Permission.READ,
        Permission.ACKNOWLEDGE_ALERTS,
        Permission.CONFIGURE_DEVICES,
        Permission.MANAGE_ALERTS,
        Permission.MANAGE_ASSETS,
    }
)

# Researchers export and nothing else: they never browse live readings or device state. The
# prefecture sees the shared landslide list and nothing else: not even its own tenant's data.
PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.OPERATOR: _OPERATOR,
    Role.ADMIN: _OPERATOR
    | {
        Permission.MANAGE_DEVICES,
        Permission.MANAGE_KEYS,
        Permission.MANAGE_GRANTS,
        Permission.SHARE_DISASTER,
    },
    Role.RESEARCHER: frozenset({Permission.EXPORT}),
    Role.PREFECTURE: frozenset({Permission.VIEW_SHARED_DISASTER}),
}


def authorize(key: ApiKey, tenant: str, permission: Permission) -> None:
    """Raise PermissionDeniedError unless `key` may do `permission` within `tenant`."""
    if key.tenant != tenant:
        raise PermissionDeniedError("this key belongs to another tenant")
    if permission not in PERMISSIONS[key.role]:
        raise PermissionDeniedError(f"the {key.role.value} role may not {permission.value}")
