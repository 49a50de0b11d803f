"""Key management for a tenant's admins: list, create and revoke the tenant's own keys."""

from __future__ import annotations

from fastapi import APIRouter, status

from core.time import from_ms
from dashboard.auth import PermissionDeniedError
from dashboard.deps import API_PREFIX, Context, KeysAdmin, TenantPath, valid_id
from dashboard.keys import ApiKey, KeyStoreError, Role
from dashboard.schemas import AUTHENTICATED, KeyCreate, KeyCreated, KeyOut, error_responses

router = APIRouter(prefix=API_PREFIX, tags=["API keys"], responses=error_responses(*AUTHENTICATED))


def _out(key: ApiKey) -> KeyOut:
    return KeyOut(
        id=key.id,
        tenant=key.tenant,
        role=key.role,
        sites=list(key.sites),
        name=key.name,
        created=from_ms(key.created_ms),
        revoked=None if key.revoked_ms is None else from_ms(key.revoked_ms),
    )


@router.get("/tenants/{tenant}/keys", response_model=list[KeyOut], summary="List keys")
def list_keys(tenant: TenantPath, key: KeysAdmin, context: Context) -> list[KeyOut]:
    """The tenant's keys, revoked ones included, without secrets."""
    return [_out(k) for k in context.keys.list(key.tenant)]


@router.post(
    "/tenants/{tenant}/keys",
    response_model=KeyCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Create a key",
)
def create_key(tenant: TenantPath, body: KeyCreate, key: KeysAdmin, context: Context) -> KeyCreated:
    """A new key of the tenant; its token is in this answer only. Prefecture keys see every
    tenant's shared sites, so only the platform's operator makes them (`shinshu keys create`)."""
    if body.role is Role.PREFECTURE:
        raise PermissionDeniedError("prefecture keys are created with `shinshu keys create`")
    if body.role is Role.RESEARCHER and not body.sites:
        # Without sites it would be a researcher account's key, which is the platform's to make.
        raise KeyStoreError(
            "a researcher key of the tenant needs the sites it shares; a researcher working "
            "with several tenants gets an account (`shinshu keys create`) and asks for grants"
        )
    sites = [valid_id(s, "site") for s in body.sites]
    created, token = context.keys.create(key.tenant, body.role, name=body.name, sites=sites)
    return KeyCreated(**_out(created).model_dump(), token=token)


@router.delete("/tenants/{tenant}/keys/{key_id}", response_model=KeyOut, summary="Revoke a key")
def revoke_key(tenant: TenantPath, key_id: str, key: KeysAdmin, context: Context) -> KeyOut:
    """Revoke one of the tenant's keys; it is refused from the next request on."""
    return _out(context.keys.revoke(key_id, tenant=key.tenant))
