"""Who the caller is: the tenant, role and sites of the presented key, for any valid key."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from dashboard.deps import API_PREFIX, Context, CurrentKey
from dashboard.keys import Role
from dashboard.schemas import error_responses
from dashboard.scopes import is_account, scopes_of

router = APIRouter(prefix=API_PREFIX, tags=["identity"], responses=error_responses(401, 429))


class Reach(BaseModel):
    """A tenant's sites a researcher account may read now, through grants in force."""

    tenant: str
    sites: list[str]
    grants: list[str]


class WhoAmI(BaseModel):
    """The presented key, without its secret: what a client may show and offer."""

    key_id: str = Field(description="public id of the key")
    tenant: str = Field(description="the only tenant this key can reach (an account's name)")
    role: Role
    sites: list[str] = Field(description="sites a researcher key may export; empty otherwise")
    name: str
    account: bool = Field(description="a researcher account: it reads through grants")
    reach: list[Reach] = Field(description="a researcher account's grants in force, by tenant")


@router.get("/whoami", response_model=WhoAmI, summary="The caller's own key")
def whoami(key: CurrentKey, context: Context) -> WhoAmI:
    """Tenant, role and shared sites of the key in the request, so a UI can sign in with it."""
    # No tenant in the path: the answer is about the key itself, never about another tenant.
    account = is_account(key)
    reach = [
        Reach(tenant=s.tenant, sites=sorted(s.sites or ()), grants=[g.id for g in s.grants])
        for s in (scopes_of(key, context.grants) if account else [])
    ]
    return WhoAmI(
        key_id=key.id,
        tenant=key.tenant,
        role=key.role,
        sites=list(key.sites),
        name=key.name,
        account=account,
        reach=reach,
    )
