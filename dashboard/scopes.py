"""What data a key reaches: its tenant, a researcher key's sites, or an account's grants in force.

Both the SensorThings API and the exports ask here, so that a researcher sees the same sites
in both, and both write the same download log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dashboard.auth import PERMISSIONS, Permission, PermissionDeniedError, authorize
from dashboard.grants import Download, Grant, GrantError, GrantStore
from dashboard.keys import ApiKey, Role


@dataclass(frozen=True, slots=True)
class Scope:
    """One tenant's data a key reaches: every site (None) or these, and the grants behind it."""

    tenant: str
    sites: frozenset[str] | None
    grants: tuple[Grant, ...] = ()

    def allows(self, site: str) -> bool:
        """Whether the scope reaches `site`."""
        return self.sites is None or site in self.sites

    def choose(self, requested: Sequence[str]) -> list[str]:
        """The sites an export covers: those asked for (all allowed ones if none), or 403."""
        if self.sites is None:
            return list(requested)
        if not requested:
            return sorted(self.sites)
        refused = sorted(set(requested) - self.sites)
        if refused:
            raise PermissionDeniedError(f"sites not shared with this key: {', '.join(refused)}")
        return list(requested)

    def licence(self, sites: Iterable[str], default: str) -> str:
        """The licence of `sites`: the grants' that cover them, or the platform's own."""
        if not self.grants:
            return default
        chosen = set(sites) or set(self.sites or ())
        found = {g.licence for g in self.grants if chosen & set(g.sites)}
        if len(found) > 1:
            raise GrantError(
                f"these sites are shared under different licences ({', '.join(sorted(found))}): "
                "export them separately"
            )
        return found.pop() if found else default


def is_account(key: ApiKey) -> bool:
    """Whether `key` is a researcher account's: no sites of its own, it reads through grants."""
    return key.role is Role.RESEARCHER and not key.sites


def scopes_of(key: ApiKey, grants: GrantStore, now_ms: int | None = None) -> list[Scope]:
    """Every tenant's data `key` reaches for reading, in tenant order."""
    if is_account(key):
        by_tenant: dict[str, list[Grant]] = {}
        for grant in grants.in_force(key.tenant, now_ms):
            by_tenant.setdefault(grant.tenant, []).append(grant)
        return [
            Scope(tenant, frozenset(s for g in found for s in g.sites), tuple(found))
            for tenant, found in sorted(by_tenant.items())
        ]
    if key.role is Role.RESEARCHER:
        return [Scope(key.tenant, frozenset(key.sites))]
    if Permission.READ in PERMISSIONS[key.role]:
        return [Scope(key.tenant, None)]
    return []


def export_scope(key: ApiKey, tenant: str, grants: GrantStore) -> Scope:
    """The scope of an export of `tenant`'s data by `key`, or PermissionDeniedError."""
    if not is_account(key):
        authorize(key, tenant, Permission.EXPORT)
        return Scope(tenant, frozenset(key.sites) if key.role is Role.RESEARCHER else None)
    for scope in scopes_of(key, grants):
        if scope.tenant == tenant:
            return scope
    raise PermissionDeniedError(f"no grant of tenant {tenant!r} is in force for this account")


def log_download(
    grants: GrantStore,
    key: ApiKey,
    scope: Scope,
    *,
    channel: str,
    what: str,
    items: int | None = None,
) -> None:
    """Log that `key` (a researcher's) took data of `scope`'s tenant; other roles are not."""
    if key.role is not Role.RESEARCHER:
        return
    grants.log(
        Download(
            seq=0,
            at_ms=0,
            researcher=key.tenant,
            key_id=key.id,
            tenant=scope.tenant,
            grants=tuple(g.id for g in scope.grants),
            channel=channel,
            what=what,
            items=items,
        )
    )
