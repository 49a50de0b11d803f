"""Research grants in their store: requests, decisions, dates, and the download log."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.grants import (
    Download,
    GrantError,
    GrantNotFoundError,
    GrantState,
    GrantStatus,
    GrantStore,
    Terms,
)

HOUR_MS = 3_600_000


class Clock:
    """A clock the test moves: seconds since the epoch."""

    def __init__(self) -> None:
        self.now = 1_780_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, hours: float) -> None:
        self.now += hours * 3600


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> GrantStore:
    return GrantStore(tmp_path / "grants.sqlite3", clock=clock)


def _request(store: GrantStore, tenant: str = "alpha", sites: tuple[str, ...] = ("a", "b")):  # type: ignore[no-untyped-def]
    return store.request(
        researcher="lab", tenant=tenant, sites=list(sites), purpose="soil study", by="key:r"
    )


def test_a_request_shares_nothing_until_its_tenants_admin_approves(store: GrantStore) -> None:
    """Requested: listed for the tenant and the account, in force for nobody."""
    grant = _request(store)
    assert grant.state is GrantState.REQUESTED
    assert [g.id for g in store.of_tenant("alpha")] == [grant.id]
    assert [g.id for g in store.of_researcher("lab")] == [grant.id]
    assert store.of_tenant("beta") == []
    assert store.in_force("lab") == []


def test_approval_sets_the_terms_and_may_narrow_the_sites(store: GrantStore) -> None:
    """Approved with licence and expiry, only site `a`: in force for `a` alone."""
    grant = _request(store)
    expires = store.now_ms() + 24 * HOUR_MS
    terms = Terms(licence="CC-BY-4.0", expires_ms=expires, sites=("a",), note="for the paper")
    approved = store.approve(grant.id, tenant="alpha", terms=terms, by="key:admin")
    assert approved.sites == ("a",)
    assert (approved.licence, approved.expires_ms, approved.decided_by) == (
        "CC-BY-4.0",
        expires,
        "key:admin",
    )
    assert [g.sites for g in store.in_force("lab")] == [("a",)]
    assert store.in_force("other-lab") == []


def test_approval_never_widens_a_request(store: GrantStore) -> None:
    """A site the account did not ask for cannot be approved into the grant."""
    grant = _request(store, sites=("a",))
    terms = Terms(licence="CC-BY-4.0", expires_ms=store.now_ms() + HOUR_MS, sites=("a", "z"))
    with pytest.raises(GrantError, match="not asked for: z"):
        store.approve(grant.id, tenant="alpha", terms=terms, by="key:admin")


def test_only_the_tenant_asked_decides(store: GrantStore) -> None:
    """Beta's admin cannot approve, reject or revoke a request made to alpha."""
    grant = _request(store)
    terms = Terms(licence="CC-BY-4.0", expires_ms=store.now_ms() + HOUR_MS)
    with pytest.raises(GrantNotFoundError):
        store.approve(grant.id, tenant="beta", terms=terms, by="key:b")
    with pytest.raises(GrantNotFoundError):
        store.reject(grant.id, tenant="beta", by="key:b")
    with pytest.raises(GrantNotFoundError):
        store.revoke(grant.id, tenant="beta", by="key:b")
    assert store.get(grant.id).state is GrantState.REQUESTED


def test_an_embargo_opens_and_an_expiry_closes_the_grant(store: GrantStore, clock: Clock) -> None:
    """Embargoed before its date, active between, expired from its expiry on."""
    now = store.now_ms()
    terms = Terms(licence="CC0-1.0", embargo_ms=now + 2 * HOUR_MS, expires_ms=now + 5 * HOUR_MS)
    grant = store.give(
        researcher="lab", tenant="alpha", sites=["a"], purpose="", terms=terms, by="key:admin"
    )
    seen = []
    for _ in range(6):
        seen.append((store.get(grant.id).status(store.now_ms()), len(store.in_force("lab"))))
        clock.advance(1)
    assert seen == [
        (GrantStatus.EMBARGOED, 0),
        (GrantStatus.EMBARGOED, 0),
        (GrantStatus.ACTIVE, 1),
        (GrantStatus.ACTIVE, 1),
        (GrantStatus.ACTIVE, 1),
        (GrantStatus.EXPIRED, 0),
    ]


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        (Terms(licence=" ", expires_ms=10**13), "needs a licence"),
        (Terms(licence="CC-BY-4.0", expires_ms=1), "expiry must be in the future"),
        (
            Terms(licence="CC-BY-4.0", expires_ms=10**13, embargo_ms=10**13),
            "embargo must end before it expires",
        ),
    ],
)
def test_terms_that_cannot_work_are_refused(store: GrantStore, terms: Terms, message: str) -> None:
    """No licence, an expiry past, or an embargo past the expiry: a clear error."""
    grant = _request(store)
    with pytest.raises(GrantError, match=message):
        store.approve(grant.id, tenant="alpha", terms=terms, by="key:admin")


def test_reject_and_revoke_end_a_grant_for_good(store: GrantStore) -> None:
    """A rejected request cannot be approved; a revoked grant is no longer in force."""
    rejected = store.reject(_request(store).id, tenant="alpha", by="key:admin", note="no")
    terms = Terms(licence="CC-BY-4.0", expires_ms=store.now_ms() + HOUR_MS)
    with pytest.raises(GrantError, match="is rejected, not requested"):
        store.approve(rejected.id, tenant="alpha", terms=terms, by="key:admin")
    approved = store.approve(_request(store).id, tenant="alpha", terms=terms, by="key:admin")
    assert len(store.in_force("lab")) == 1
    revoked = store.revoke(approved.id, tenant="alpha", by="key:admin")
    assert revoked.state is GrantState.REVOKED
    assert store.revoke(approved.id, tenant="alpha", by="key:admin").state is GrantState.REVOKED
    assert store.in_force("lab") == []


def test_bad_ids_and_empty_grants_are_refused(store: GrantStore) -> None:
    """A site or tenant that could not be stored, or no site at all, is refused."""
    with pytest.raises(GrantError, match="site"):
        _request(store, sites=("bad/site",))
    with pytest.raises(GrantError, match="at least one site"):
        _request(store, sites=())
    with pytest.raises(GrantError, match="tenant"):
        _request(store, tenant="no/tenant")


def test_the_log_is_kept_per_tenant_and_per_account(store: GrantStore, clock: Clock) -> None:
    """Each tenant's log holds only its own downloads, newest first, stamped by the clock."""
    for tenant, items in (("alpha", 10), ("beta", 20), ("alpha", 30)):
        store.log(Download(0, 0, "lab", "k1", tenant, ("g1",), "export", "/x", items))
        clock.advance(1)
    alpha = store.downloads(tenant="alpha")
    assert [d.items for d in alpha] == [30, 10]
    assert alpha[0].at_ms - alpha[1].at_ms == 2 * HOUR_MS
    assert [d.items for d in store.downloads(tenant="beta")] == [20]
    assert [d.items for d in store.downloads(researcher="lab", limit=2)] == [30, 20]
    assert store.downloads(tenant="gamma") == []
