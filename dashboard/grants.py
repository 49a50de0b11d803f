"""Research grants: a tenant's sites shared with a researcher account, and every download logged.

A researcher account is a researcher key without sites of its own, made by the platform's
operator (`shinshu keys create --role researcher --tenant ACCOUNT`); its keys share the
account's grants. The account asks a tenant for sites (a request), and that tenant's admin
approves it with a licence, an embargo and an expiry, or rejects it; the admin may also grant
directly, and revoke at any time. A grant is in force from its embargo (the day its data opens,
as on a data repository) until it expires; outside that, the account sees nothing of it.
Every answer that carried a tenant's data to an account is a row of that tenant's log.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from dashboard.errors import DashboardError, InvalidRequestError, NotFoundError
from edge.protocol import ProtocolError, check_id
from edge.schema import Schema
from identity.registry import PrivateStore

_V1 = """
CREATE TABLE IF NOT EXISTS grants (
    id TEXT PRIMARY KEY,
    researcher TEXT NOT NULL,
    tenant TEXT NOT NULL,
    sites TEXT NOT NULL,
    purpose TEXT NOT NULL,
    licence TEXT NOT NULL,
    embargo_ms INTEGER,
    expires_ms INTEGER,
    state TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_ms INTEGER NOT NULL,
    decided_by TEXT,
    decided_ms INTEGER,
    note TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS grants_researcher ON grants (researcher);
CREATE INDEX IF NOT EXISTS grants_tenant ON grants (tenant);
CREATE TABLE IF NOT EXISTS downloads (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    researcher TEXT NOT NULL,
    key_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    grants TEXT NOT NULL,
    channel TEXT NOT NULL,
    what TEXT NOT NULL,
    items INTEGER
);
CREATE INDEX IF NOT EXISTS downloads_tenant ON downloads (tenant, seq);
CREATE INDEX IF NOT EXISTS downloads_researcher ON downloads (researcher, seq);
"""
SCHEMA = Schema("research grant store", (_V1,))
_ID_BYTES = 6
# Long enough for a study's title and aims, short enough to list.
MAX_TEXT = 2000


class GrantError(DashboardError, InvalidRequestError):
    """A grant cannot be requested, decided or changed as asked."""


class GrantNotFoundError(GrantError, NotFoundError):
    """No grant of that id (or not of that tenant or account)."""


class GrantState(StrEnum):
    """Where a grant is in its life; `in_force` adds its embargo and expiry."""

    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVOKED = "revoked"


class GrantStatus(StrEnum):
    """What a grant means now: its state, with an approved one split by its dates."""

    REQUESTED = "requested"
    EMBARGOED = "embargoed"
    ACTIVE = "active"
    EXPIRED = "expired"
    REJECTED = "rejected"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class Grant:
    """One tenant's sites shared with one researcher account, and its terms."""

    id: str
    researcher: str
    tenant: str
    sites: tuple[str, ...]
    purpose: str
    licence: str
    # Nothing of the grant is seen before its embargo or from its expiry on.
    embargo_ms: int | None
    expires_ms: int | None
    state: GrantState
    requested_by: str
    requested_ms: int
    decided_by: str | None
    decided_ms: int | None
    note: str

    def status(self, now_ms: int) -> GrantStatus:
        """The grant's status at `now_ms`."""
        if self.state is not GrantState.APPROVED:
            return GrantStatus(self.state.value)
        if self.expires_ms is not None and now_ms >= self.expires_ms:
            return GrantStatus.EXPIRED
        if self.embargo_ms is not None and now_ms < self.embargo_ms:
            return GrantStatus.EMBARGOED
        return GrantStatus.ACTIVE

    def in_force(self, now_ms: int) -> bool:
        """Whether the account may read the grant's sites at `now_ms`."""
        return self.status(now_ms) is GrantStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class Terms:
    """What an admin approves: the licence, the dates, and the sites (narrowed, if they like)."""

    licence: str
    expires_ms: int
    embargo_ms: int | None = None
    sites: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class Download:
    """One answer that carried a tenant's data to a researcher account."""

    seq: int
    at_ms: int
    researcher: str
    key_id: str
    tenant: str
    grants: tuple[str, ...]
    channel: str
    what: str
    # Entities (SensorThings) or rows (exports) of the tenant in the answer, where counted.
    items: int | None


def _ids(values: Sequence[str], what: str) -> tuple[str, ...]:
    try:
        return tuple(sorted({check_id(v, what) for v in values}))
    except ProtocolError as exc:
        raise GrantError(str(exc)) from exc


def _text(value: str, what: str) -> str:
    if len(value) > MAX_TEXT:
        raise GrantError(f"{what} is longer than {MAX_TEXT} characters")
    return value


class GrantStore(PrivateStore):
    """The SQLite tables of grants and of the download log; safe to share between threads."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        """Open (creating if needed) the grant database at `path`; `clock` gives seconds."""
        super().__init__(path, SCHEMA)
        self._clock = clock

    def now_ms(self) -> int:
        """The time grants are judged at: now, by the store's clock."""
        return int(self._clock() * 1000)

    def request(
        self, *, researcher: str, tenant: str, sites: Sequence[str], purpose: str, by: str
    ) -> Grant:
        """A researcher account asks `tenant` for `sites`; its admin decides."""
        return self._insert(
            researcher=researcher,
            tenant=tenant,
            sites=sites,
            purpose=purpose,
            by=by,
            now_ms=self.now_ms(),
            terms=None,
        )

    def give(
        self,
        *,
        researcher: str,
        tenant: str,
        sites: Sequence[str],
        purpose: str,
        terms: Terms,
        by: str,
    ) -> Grant:
        """A tenant's admin grants `sites` to an account without its asking: approved at once."""
        now = self.now_ms()
        _check_terms(terms, now)
        return self._insert(
            researcher=researcher,
            tenant=tenant,
            sites=sites,
            purpose=purpose,
            by=by,
            now_ms=now,
            terms=terms,
        )

    def _insert(
        self,
        *,
        researcher: str,
        tenant: str,
        sites: Sequence[str],
        purpose: str,
        by: str,
        now_ms: int,
        terms: Terms | None,
    ) -> Grant:
        try:
            check_id(researcher, "researcher account")
            check_id(tenant, "tenant")
        except ProtocolError as exc:
            raise GrantError(str(exc)) from exc
        chosen = _ids(sites, "site")
        if not chosen:
            raise GrantError("a grant needs at least one site")
        if terms is not None and terms.sites:
            raise GrantError("give the sites once: as the grant's sites")
        grant = Grant(
            id=secrets.token_hex(_ID_BYTES),
            researcher=researcher,
            tenant=tenant,
            sites=chosen,
            purpose=_text(purpose, "purpose"),
            licence="" if terms is None else terms.licence,
            embargo_ms=None if terms is None else terms.embargo_ms,
            expires_ms=None if terms is None else terms.expires_ms,
            state=GrantState.REQUESTED if terms is None else GrantState.APPROVED,
            requested_by=by,
            requested_ms=now_ms,
            decided_by=None if terms is None else by,
            decided_ms=None if terms is None else now_ms,
            note="" if terms is None else _text(terms.note, "note"),
        )
        with self._lock:
            self._db.execute(
                "INSERT INTO grants VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _row(grant),
            )
        return grant

    def get(self, grant_id: str, *, tenant: str | None = None) -> Grant:
        """The grant with this id (of `tenant`, if given), or GrantNotFoundError."""
        with self._lock:
            row = self._db.execute("SELECT * FROM grants WHERE id = ?", (grant_id,)).fetchone()
        if row is None or (tenant is not None and row[2] != tenant):
            raise GrantNotFoundError(f"no grant {grant_id!r}")
        return _grant(row)

    def approve(self, grant_id: str, *, tenant: str, terms: Terms, by: str) -> Grant:
        """Approve a requested grant with `terms`; its sites may be narrowed, never widened."""
        grant = self.get(grant_id, tenant=tenant)
        if grant.state is not GrantState.REQUESTED:
            raise GrantError(f"grant {grant_id} is {grant.state.value}, not requested")
        now = self.now_ms()
        _check_terms(terms, now)
        sites = _ids(terms.sites, "site") if terms.sites else grant.sites
        wider = sorted(set(sites) - set(grant.sites))
        if wider:
            raise GrantError(f"sites not asked for: {', '.join(wider)}")
        with self._lock:
            self._db.execute(
                "UPDATE grants SET state = ?, sites = ?, licence = ?, embargo_ms = ?, "
                "expires_ms = ?, decided_by = ?, decided_ms = ?, note = ? WHERE id = ?",
                (
                    GrantState.APPROVED.value,
                    "\n".join(sites),
                    terms.licence,
                    terms.embargo_ms,
                    terms.expires_ms,
                    by,
                    now,
                    _text(terms.note, "note"),
                    grant_id,
                ),
            )
        return self.get(grant_id)

    def reject(self, grant_id: str, *, tenant: str, by: str, note: str = "") -> Grant:
        """Reject a requested grant."""
        grant = self.get(grant_id, tenant=tenant)
        if grant.state is not GrantState.REQUESTED:
            raise GrantError(f"grant {grant_id} is {grant.state.value}, not requested")
        return self._decide(grant_id, GrantState.REJECTED, by=by, note=note)

    def revoke(self, grant_id: str, *, tenant: str, by: str, note: str = "") -> Grant:
        """End an approved grant now (or withdraw a request); revoking twice is allowed."""
        grant = self.get(grant_id, tenant=tenant)
        if grant.state is GrantState.REVOKED:
            return grant
        if grant.state is GrantState.REJECTED:
            raise GrantError(f"grant {grant_id} was rejected: there is nothing to revoke")
        return self._decide(grant_id, GrantState.REVOKED, by=by, note=note)

    def _decide(self, grant_id: str, state: GrantState, *, by: str, note: str) -> Grant:
        with self._lock:
            self._db.execute(
                "UPDATE grants SET state = ?, decided_by = ?, decided_ms = ?, note = ? "
                "WHERE id = ?",
                (state.value, by, self.now_ms(), _text(note, "note"), grant_id),
            )
        return self.get(grant_id)

    def of_tenant(self, tenant: str) -> list[Grant]:
        """Every grant of `tenant`'s sites, newest first."""
        return self._select("tenant", tenant)

    def of_researcher(self, researcher: str) -> list[Grant]:
        """Every grant of a researcher account, newest first."""
        return self._select("researcher", researcher)

    def in_force(self, researcher: str, now_ms: int | None = None) -> list[Grant]:
        """The account's grants it may read at `now_ms` (default: now), oldest first."""
        now = self.now_ms() if now_ms is None else now_ms
        return [g for g in reversed(self.of_researcher(researcher)) if g.in_force(now)]

    def _select(self, column: str, value: str) -> list[Grant]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM grants WHERE {column} = ? ORDER BY requested_ms DESC, id",
                (value,),
            ).fetchall()
        return [_grant(r) for r in rows]

    def log(self, download: Download) -> None:
        """Append one download to its tenant's log (`seq` is assigned here, and `at_ms` if 0)."""
        if not download.at_ms:
            download = replace(download, at_ms=self.now_ms())
        with self._lock:
            self._db.execute(
                "INSERT INTO downloads (at_ms, researcher, key_id, tenant, grants, channel, what, "
                "items) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    download.at_ms,
                    download.researcher,
                    download.key_id,
                    download.tenant,
                    "\n".join(download.grants),
                    download.channel,
                    download.what,
                    download.items,
                ),
            )

    def downloads(
        self, *, tenant: str | None = None, researcher: str | None = None, limit: int = 1000
    ) -> list[Download]:
        """The newest downloads of a tenant's data, or of an account, newest first."""
        column, value = ("tenant", tenant) if tenant is not None else ("researcher", researcher)
        if value is None:
            raise GrantError("name a tenant or a researcher account")
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM downloads WHERE {column} = ? ORDER BY seq DESC LIMIT ?",
                (value, limit),
            ).fetchall()
        return [
            Download(
                seq=int(r[0]),
                at_ms=int(r[1]),
                researcher=str(r[2]),
                key_id=str(r[3]),
                tenant=str(r[4]),
                grants=tuple(g for g in str(r[5]).split("\n") if g),
                channel=str(r[6]),
                what=str(r[7]),
                items=None if r[8] is None else int(r[8]),
            )
            for r in rows
        ]


def _check_terms(terms: Terms, now_ms: int) -> None:
    if not terms.licence.strip():
        raise GrantError("a grant needs a licence (e.g. CC-BY-4.0)")
    if len(terms.licence) > 200:
        raise GrantError("a licence is at most 200 characters: name it, or give its URL")
    if terms.expires_ms <= now_ms:
        raise GrantError("a grant's expiry must be in the future")
    if terms.embargo_ms is not None and terms.embargo_ms >= terms.expires_ms:
        raise GrantError("a grant's embargo must end before it expires")


def _row(grant: Grant) -> tuple[object, ...]:
    return (
        grant.id,
        grant.researcher,
        grant.tenant,
        "\n".join(grant.sites),
        grant.purpose,
        grant.licence,
        grant.embargo_ms,
        grant.expires_ms,
        grant.state.value,
        grant.requested_by,
        grant.requested_ms,
        grant.decided_by,
        grant.decided_ms,
        grant.note,
    )


def _grant(row: tuple[object, ...]) -> Grant:
    def opt_int(value: object) -> int | None:
        return None if value is None else int(value)  # type: ignore[call-overload]

    return Grant(
        id=str(row[0]),
        researcher=str(row[1]),
        tenant=str(row[2]),
        sites=tuple(s for s in str(row[3]).split("\n") if s),
        purpose=str(row[4]),
        licence=str(row[5]),
        embargo_ms=opt_int(row[6]),
        expires_ms=opt_int(row[7]),
        state=GrantState(str(row[8])),
        requested_by=str(row[9]),
        requested_ms=int(row[10]),  # type: ignore[call-overload]
        decided_by=None if row[11] is None else str(row[11]),
        decided_ms=opt_int(row[12]),
        note=str(row[13]),
    )
