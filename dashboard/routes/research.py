"""Research grants: accounts ask, tenants' admins approve, reject or revoke; the download log."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from core.time import JST, from_ms
from dashboard.auth import PermissionDeniedError
from dashboard.deps import API_PREFIX, Context, CurrentKey, GrantsAdmin, TenantPath, changed_by
from dashboard.deps import to_ms as deps_to_ms
from dashboard.grant_schemas import (
    DownloadOut,
    GrantDecision,
    GrantGive,
    GrantOut,
    GrantRequest,
    GrantTerms,
)
from dashboard.grants import Download, Grant, Terms
from dashboard.keys import ApiKey
from dashboard.schemas import AUTHENTICATED, error_responses
from dashboard.scopes import is_account

router = APIRouter(
    prefix=API_PREFIX, tags=["research grants"], responses=error_responses(*AUTHENTICATED)
)
Limit = Annotated[int, Query(ge=1, le=10_000, description="newest first, at most this many")]


async def account_key(key: CurrentKey) -> ApiKey:
    """A researcher account's key (a researcher key without sites of its own), else 403."""
    if not is_account(key):
        raise PermissionDeniedError("only a researcher account asks for and holds grants")
    return key


AccountKey = Annotated[ApiKey, Depends(account_key)]


def _ms(value: dt.datetime | dt.date | None, *, end_of_day: bool) -> int | None:
    """A time in ms; a date is a JST day: its start, or its end for an expiry."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return deps_to_ms(value)
    day = value + dt.timedelta(days=1) if end_of_day else value
    return deps_to_ms(dt.datetime.combine(day, dt.time(), tzinfo=JST))


def _out(grant: Grant, now_ms: int) -> GrantOut:
    return GrantOut(
        id=grant.id,
        researcher=grant.researcher,
        tenant=grant.tenant,
        sites=list(grant.sites),
        purpose=grant.purpose,
        licence=grant.licence,
        embargo=None if grant.embargo_ms is None else from_ms(grant.embargo_ms),
        expires=None if grant.expires_ms is None else from_ms(grant.expires_ms),
        state=grant.state,
        status=grant.status(now_ms),
        requested_by=grant.requested_by,
        requested=from_ms(grant.requested_ms),
        decided_by=grant.decided_by,
        decided=None if grant.decided_ms is None else from_ms(grant.decided_ms),
        note=grant.note,
    )


def _download(row: Download) -> DownloadOut:
    return DownloadOut(
        at=from_ms(row.at_ms),
        researcher=row.researcher,
        key_id=row.key_id,
        tenant=row.tenant,
        grants=list(row.grants),
        channel=row.channel,
        what=row.what,
        items=row.items,
    )


@router.get("/research/grants", response_model=list[GrantOut], summary="The account's grants")
def my_grants(key: AccountKey, context: Context) -> list[GrantOut]:
    """Every grant and request of the caller's researcher account, newest first."""
    return [_out(g, context.grants.now_ms()) for g in context.grants.of_researcher(key.tenant)]


@router.post(
    "/research/grants",
    response_model=GrantOut,
    status_code=status.HTTP_201_CREATED,
    summary="Ask a tenant for sites",
)
def request_grant(body: GrantRequest, key: AccountKey, context: Context) -> GrantOut:
    """A request to a tenant; nothing is shared until that tenant's admin approves it."""
    grant = context.grants.request(
        researcher=key.tenant,
        tenant=body.tenant,
        sites=body.sites,
        purpose=body.purpose,
        by=changed_by(key),
    )
    return _out(grant, context.grants.now_ms())


@router.get(
    "/research/downloads", response_model=list[DownloadOut], summary="The account's downloads"
)
def my_downloads(key: AccountKey, context: Context, limit: Limit = 1000) -> list[DownloadOut]:
    """What the caller's account downloaded, newest first: the log its tenants see."""
    return [_download(d) for d in context.grants.downloads(researcher=key.tenant, limit=limit)]


@router.get(
    "/tenants/{tenant}/research/grants", response_model=list[GrantOut], summary="List grants"
)
def tenant_grants(tenant: TenantPath, key: GrantsAdmin, context: Context) -> list[GrantOut]:
    """Every grant of the tenant's sites and every request to it, newest first."""
    return [_out(g, context.grants.now_ms()) for g in context.grants.of_tenant(key.tenant)]


@router.post(
    "/tenants/{tenant}/research/grants",
    response_model=GrantOut,
    status_code=status.HTTP_201_CREATED,
    summary="Grant sites to a researcher account",
)
def give_grant(tenant: TenantPath, body: GrantGive, key: GrantsAdmin, context: Context) -> GrantOut:
    """Share sites with a researcher account at once, with a licence, embargo and expiry."""
    terms = Terms(
        licence=body.licence,
        expires_ms=_expiry(body.expires),
        embargo_ms=_ms(body.embargo, end_of_day=False),
        note=body.note,
    )
    grant = context.grants.give(
        researcher=body.researcher,
        tenant=key.tenant,
        sites=body.sites,
        purpose=body.purpose,
        terms=terms,
        by=changed_by(key),
    )
    return _out(grant, context.grants.now_ms())


def _expiry(value: dt.datetime | dt.date) -> int:
    found = _ms(value, end_of_day=True)
    assert found is not None
    return found


@router.post(
    "/tenants/{tenant}/research/grants/{grant}/approve",
    response_model=GrantOut,
    summary="Approve a request",
)
def approve_grant(
    tenant: TenantPath, grant: str, body: GrantTerms, key: GrantsAdmin, context: Context
) -> GrantOut:
    """Approve a request with a licence, an embargo and an expiry (sites may be narrowed)."""
    terms = Terms(
        licence=body.licence,
        expires_ms=_expiry(body.expires),
        embargo_ms=_ms(body.embargo, end_of_day=False),
        sites=tuple(body.sites),
        note=body.note,
    )
    approved = context.grants.approve(grant, tenant=key.tenant, terms=terms, by=changed_by(key))
    return _out(approved, context.grants.now_ms())


@router.post(
    "/tenants/{tenant}/research/grants/{grant}/reject",
    response_model=GrantOut,
    summary="Reject a request",
)
def reject_grant(
    tenant: TenantPath, grant: str, body: GrantDecision, key: GrantsAdmin, context: Context
) -> GrantOut:
    """Reject a request; the account sees the note."""
    found = context.grants.reject(grant, tenant=key.tenant, by=changed_by(key), note=body.note)
    return _out(found, context.grants.now_ms())


@router.delete(
    "/tenants/{tenant}/research/grants/{grant}", response_model=GrantOut, summary="Revoke a grant"
)
def revoke_grant(tenant: TenantPath, grant: str, key: GrantsAdmin, context: Context) -> GrantOut:
    """End a grant (or withdraw a request) now: from the next request on, nothing is seen."""
    revoked = context.grants.revoke(grant, tenant=key.tenant, by=changed_by(key))
    return _out(revoked, context.grants.now_ms())


@router.get(
    "/tenants/{tenant}/research/downloads",
    response_model=list[DownloadOut],
    summary="Downloads of the tenant's data",
)
def tenant_downloads(
    tenant: TenantPath, key: GrantsAdmin, context: Context, limit: Limit = 1000
) -> list[DownloadOut]:
    """Who downloaded what of the tenant's data, and when, newest first."""
    return [_download(d) for d in context.grants.downloads(tenant=key.tenant, limit=limit)]
