"""The request and answer bodies of research grants and of the download log."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from dashboard.grants import MAX_TEXT, GrantState, GrantStatus

_SITES = Field(min_length=1, max_length=1000, description="site ids of the tenant")
_WHEN = (
    "a date (JST: an embargo opens at the start of that day, a grant expires at its end) "
    "or an exact ISO 8601 time"
)


_BARE_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day(value: object) -> object:
    """A bare `YYYY-MM-DD` as a date: else it would pass as a datetime at UTC midnight."""
    # FastAPI validates the parsed body in Python mode, where a datetime accepts a date string.
    if isinstance(value, str) and _BARE_DATE.fullmatch(value.strip()):
        return dt.date.fromisoformat(value.strip())
    return value


When = Annotated[dt.datetime | dt.date, BeforeValidator(_day)]


class GrantRequest(BaseModel):
    """What a researcher account asks a tenant for."""

    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(min_length=1, max_length=128, description="the tenant asked")
    sites: list[str] = _SITES
    purpose: str = Field(min_length=1, max_length=MAX_TEXT, description="the study and its aims")


class GrantTerms(BaseModel):
    """What a tenant's admin approves: licence, embargo and expiry; sites may be narrowed."""

    model_config = ConfigDict(extra="forbid")

    licence: str = Field(min_length=1, max_length=200, description="e.g. CC-BY-4.0")
    expires: When = Field(description=f"when the grant ends: {_WHEN}")
    embargo: When | None = Field(None, description=f"nothing is seen before: {_WHEN}; default none")
    sites: list[str] = Field(
        default_factory=list, max_length=1000, description="approve only these (default all)"
    )
    note: str = Field("", max_length=MAX_TEXT)


class GrantGive(BaseModel):
    """A grant an admin gives a researcher account without a request."""

    model_config = ConfigDict(extra="forbid")

    researcher: str = Field(min_length=1, max_length=128, description="the researcher account")
    sites: list[str] = _SITES
    purpose: str = Field("", max_length=MAX_TEXT)
    licence: str = Field(min_length=1, max_length=200, description="e.g. CC-BY-4.0")
    expires: When = Field(description=f"when the grant ends: {_WHEN}")
    embargo: When | None = Field(None, description=f"nothing before: {_WHEN}")
    note: str = Field("", max_length=MAX_TEXT)


class GrantDecision(BaseModel):
    """Why a request is rejected or a grant revoked (kept with it)."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=MAX_TEXT)


class GrantOut(BaseModel):
    """A grant, its terms, and what it means now."""

    id: str
    researcher: str
    tenant: str
    sites: list[str]
    purpose: str
    licence: str
    embargo: dt.datetime | None
    expires: dt.datetime | None
    state: GrantState
    status: GrantStatus = Field(description="requested, embargoed, active, expired, ...")
    requested_by: str
    requested: dt.datetime
    decided_by: str | None
    decided: dt.datetime | None
    note: str


class DownloadOut(BaseModel):
    """One answer that carried a tenant's data to a researcher: who, what, when."""

    at: dt.datetime
    researcher: str = Field(description="the researcher account (or the tenant, for its own key)")
    key_id: str
    tenant: str
    grants: list[str] = Field(description="the grants that allowed it")
    channel: str = Field(description="sta (the SensorThings API) or export")
    what: str = Field(description="the request: its path and query")
    items: int | None = Field(description="entities or rows of the tenant in the answer")
