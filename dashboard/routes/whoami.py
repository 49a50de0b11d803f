"""Who the caller is: the tenant, role and sites of the presented key, for any valid key."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from dashboard.deps import API_PREFIX, CurrentKey
from dashboard.keys import Role
from dashboard.schemas import error_responses

router = APIRouter(prefix=API_PREFIX, tags=["identity"], responses=error_responses(401, 429))


class WhoAmI(BaseModel):
    """The presented key, without its secret: what a client may show and offer."""

    key_id: str = Field(description="public id of the key")
    tenant: str = Field(description="the only tenant this key can reach")
    role: Role
    sites: list[str] = Field(description="sites a researcher key may export; empty otherwise")
    name: str


@router.get("/whoami", response_model=WhoAmI, summary="The caller's own key")
async def whoami(key: CurrentKey) -> WhoAmI:
    """Tenant, role and shared sites of the key in the request, so a UI can sign in with it."""
    # No tenant in the path: the answer is about the key itself, never about another tenant.
    return WhoAmI(
        key_id=key.id, tenant=key.tenant, role=key.role, sites=list(key.sites), name=key.name
    )
