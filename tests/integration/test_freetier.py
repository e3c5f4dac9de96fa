"""The free tier against a real PostgreSQL: every rule of the seed's FreeTierService."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import identities
import pytest
from pg8000.exceptions import DatabaseError

from timmy import freetier
from timmy.data.identities import TrustTier
from timmy.data.pool import Serve
from timmy.db.connection import db, transaction
from timmy.freetier import Decision

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def make_identity(tier: str, n: int = 1, *, at: datetime = T0) -> str:
    """An identity whose score puts it in ``tier``, last seen at ``at``."""
    return identities.make_identity(tier, f"{n:064x}", at=at)


def pool() -> int:
    return int(db().scalar("SELECT balance_sats FROM generosity_pool"))


def counter(pubkey: str) -> int:
    return int(
        db().scalar(
            "SELECT sats_absorbed_today FROM nostr_identities WHERE pubkey = :pk", pk=pubkey
        )
    )


def set_pool(balance: int) -> None:
    freetier.seed_pool()
    db().execute("UPDATE generosity_pool SET balance_sats = :b", b=balance)


@pytest.fixture
def fresh(clean_db: None) -> None:
    set_pool(10_000)


def test_pool_is_seeded_once_with_the_initial_balance(clean_db: None) -> None:
    # Before the first boot the status reports what seeding will give, without seeding
    assert freetier.pool_status().balance_sats == 10_000
    assert db().scalar("SELECT count(*) FROM generosity_pool") == 0
    assert freetier.seed_pool() == 10_000
    status = freetier.pool_status()
    assert status.balance_sats == 10_000
    assert status.daily_budgets == {
        TrustTier.NEW: 0,
        TrustTier.ESTABLISHED: 50,
        TrustTier.TRUSTED: 200,
        TrustTier.ELITE: 1000,
    }
    db().execute("UPDATE generosity_pool SET balance_sats = 7")
    assert freetier.seed_pool() == 7  # never re-seeded
    assert freetier.pool_status().balance_sats == 7


def test_budgets_and_pool_settings_are_env_overridable(
    clean_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from timmy.runtime import reset_caches

    monkeypatch.setenv("FREE_TIER_BUDGET_TRUSTED", "75")
    monkeypatch.setenv("FREE_TIER_POOL_INITIAL_SATS", "500")
    reset_caches()
    freetier.seed_pool()
    status = freetier.pool_status()
    assert status.balance_sats == 500
    assert status.daily_budgets["trusted"] == 75


def test_anonymous_and_new_identities_are_gated(fresh: None) -> None:
    assert freetier.decide(None, 100, now=T0) == Decision(Serve.GATE, 0, 100)
    new = make_identity(TrustTier.NEW)
    assert freetier.decide(new, 100, now=T0) == Decision(Serve.GATE, 0, 100)
    assert pool() == 10_000


def test_free_debits_the_pool_and_the_day_at_decision_time(fresh: None) -> None:
    trusted = make_identity(TrustTier.TRUSTED)
    assert freetier.decide(trusted, 120, now=T0) == Decision(Serve.FREE, 120, 0)
    assert pool() == 10_000 - 120
    assert counter(trusted) == 120


def test_partial_is_advisory_until_payment(fresh: None) -> None:
    # Given an established identity (50/day) and a request estimated at 80
    established = make_identity(TrustTier.ESTABLISHED)
    # When decided, it is partial and nothing is debited yet
    assert freetier.decide(established, 80, now=T0) == Decision(Serve.PARTIAL, 50, 30)
    assert pool() == 10_000
    assert counter(established) == 0
    # Then at payment time the grant is reserved
    assert freetier.reserve_partial_grant(50, established, now=T0) == 50
    assert pool() == 10_000 - 50
    assert counter(established) == 50
    assert freetier.decide(established, 10, now=T0).serve == Serve.GATE


def test_partial_reservation_rechecks_the_daily_budget(fresh: None) -> None:
    established = make_identity(TrustTier.ESTABLISHED)
    assert freetier.decide(established, 80, now=T0).absorb_sats == 50
    # Meanwhile another request of the same identity took 40 of its 50
    assert freetier.decide(established, 40, now=T0).serve == Serve.FREE
    assert freetier.reserve_partial_grant(50, established, now=T0) == 10
    assert counter(established) == 50
    assert pool() == 10_000 - 50


def test_partial_when_the_pool_is_smaller_than_the_estimate(fresh: None) -> None:
    set_pool(25)
    elite = make_identity(TrustTier.ELITE)
    assert freetier.decide(elite, 100, now=T0) == Decision(Serve.PARTIAL, 25, 75)
    set_pool(0)
    assert freetier.decide(elite, 100, now=T0) == Decision(Serve.GATE, 0, 100)


def test_over_reservation_is_returned_when_the_grant_is_recorded(fresh: None) -> None:
    trusted = make_identity(TrustTier.TRUSTED)
    assert freetier.decide(trusted, 100, now=T0).serve == Serve.FREE
    # The work cost 64 of the 100 reserved
    recorded = freetier.record_grant(trusted, "ab" * 32, 64, 100, now=T0)
    assert recorded == 64
    assert pool() == 10_000 - 64
    assert counter(trusted) == 64
    grant = db().one("SELECT pubkey, sats_absorbed, pool_balance_after FROM free_tier_grants")
    assert grant == {"pubkey": trusted, "sats_absorbed": 64, "pool_balance_after": 10_000 - 64}


def test_release_returns_the_reservation_to_the_pool_and_the_day(fresh: None) -> None:
    trusted = make_identity(TrustTier.TRUSTED)
    freetier.decide(trusted, 100, now=T0)
    freetier.release_reservation(100, trusted, "work failed", now=T0)
    assert pool() == 10_000
    assert counter(trusted) == 0


def test_credit_is_a_rounded_down_percentage(fresh: None) -> None:
    assert freetier.credit(105) == 10
    assert freetier.credit(9) == 0
    assert pool() == 10_010


def test_the_daily_budget_resets_after_a_day(fresh: None) -> None:
    trusted = make_identity(TrustTier.TRUSTED)
    assert freetier.decide(trusted, 200, now=T0).serve == Serve.FREE
    assert freetier.decide(trusted, 1, now=T0 + timedelta(hours=23, minutes=59)).serve == Serve.GATE
    next_day = T0 + timedelta(days=1)
    assert freetier.decide(trusted, 150, now=next_day) == Decision(Serve.FREE, 150, 0)
    assert counter(trusted) == 150
    row = db().one("SELECT absorbed_reset_at FROM nostr_identities WHERE pubkey = :pk", pk=trusted)
    assert row is not None
    assert row["absorbed_reset_at"] == next_day


def test_dry_run_never_changes_the_pool_or_the_counters(fresh: None) -> None:
    trusted = make_identity(TrustTier.TRUSTED)
    before = (pool(), counter(trusted))
    answers = {freetier.decide_dry_run(trusted, 120, now=T0) for _ in range(25)}
    assert answers == {Decision(Serve.FREE, 120, 0)}
    assert (pool(), counter(trusted)) == before


def test_grants_are_append_only(fresh: None) -> None:
    trusted = make_identity(TrustTier.TRUSTED)
    freetier.decide(trusted, 10, now=T0)
    freetier.record_grant(trusted, "cd" * 32, 10, 10, now=T0)
    with pytest.raises(DatabaseError, match="append-only"):
        db().execute("UPDATE free_tier_grants SET sats_absorbed = 1")
    with pytest.raises(DatabaseError, match="append-only"):
        db().execute("DELETE FROM free_tier_grants")
    assert db().scalar("SELECT sats_absorbed FROM free_tier_grants") == 10


def test_the_pool_can_never_go_negative(fresh: None) -> None:
    with pytest.raises(DatabaseError, match="check"):
        db().execute("UPDATE generosity_pool SET balance_sats = -1")


def run_parallel(count: int, action: Callable[[int], Any]) -> list[Any]:
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = action(i)
        except BaseException as error:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


def test_fifty_parallel_decisions_never_overdraw_the_pool(fresh: None) -> None:
    # Given a pool of 1000 and 50 elite callers each asking for 30 (1500 in all)
    set_pool(1000)
    callers = [make_identity(TrustTier.ELITE, n) for n in range(1, 51)]
    # When they all decide at once, each on its own connection
    decisions = run_parallel(50, lambda i: freetier.decide(callers[i], 30, now=T0))
    # Then the pool never went below zero and every debited sat is accounted for
    debited = sum(d.absorb_sats for d in decisions if d.serve == Serve.FREE)
    assert pool() >= 0
    assert debited + pool() == 1000
    assert {d.serve for d in decisions} <= {Serve.FREE, Serve.PARTIAL, Serve.GATE}
    # And recording the grants logs exactly what was debited
    for caller, decision in zip(callers, decisions, strict=True):
        if decision.serve == Serve.FREE:
            freetier.record_grant(caller, "ef" * 32, 30, 30, now=T0)
    assert db().scalar("SELECT SUM(sats_absorbed) FROM free_tier_grants") == debited


def test_one_identity_racing_itself_stays_within_its_daily_budget(fresh: None) -> None:
    trusted = make_identity(TrustTier.TRUSTED)  # 200 a day
    decisions = run_parallel(20, lambda _: freetier.decide(trusted, 30, now=T0))
    free = [d for d in decisions if d.serve == "free"]
    assert len(free) == 6  # 6 × 30 = 180 ≤ 200 < 7 × 30
    assert counter(trusted) == 180
    assert pool() == 10_000 - 180


def test_reservations_and_releases_of_one_caller_never_deadlock(fresh: None) -> None:
    # decide locks the identity row then the pool row; release must take them in that order
    trusted = make_identity(TrustTier.TRUSTED)

    def churn(i: int) -> None:
        for _ in range(10):
            if i % 2:
                freetier.decide(trusted, 1, now=T0)
            else:
                freetier.release_reservation(1, trusted, "test", now=T0)

    run_parallel(8, churn)  # raises on any error, a deadlock (40P01) included
    assert pool() == 10_000  # 40 sats reserved by the deciders, 40 released by the others


def test_mixed_reservations_releases_and_credits_on_a_small_pool_never_fail(
    fresh: None,
) -> None:
    # Given a small pool, and 24 callers on their own connections: a third reserve whole free
    # grants, a third partial grants, a third give sats back (a release and a credit in one
    # transaction, as a failed job's settlement does)
    set_pool(20)
    callers = [
        identities.make_identity(
            TrustTier.ELITE, f"{n:064x}", absorbed_today=10_000 if n % 3 == 2 else 0, at=T0
        )
        for n in range(24)
    ]
    rounds = 25
    debited = [0] * 24
    given_back = [0] * 24

    def work(i: int) -> None:
        for _ in range(rounds):
            if i % 3 == 0:
                decision = freetier.decide(callers[i], 7, now=T0)
                assert decision.serve in {Serve.FREE, Serve.PARTIAL, Serve.GATE}
                debited[i] += decision.absorb_sats if decision.serve == Serve.FREE else 0
            elif i % 3 == 1:
                debited[i] += freetier.reserve_partial_grant(9, callers[i], now=T0)
            else:
                with transaction() as tx:
                    freetier.release_reservation(3, callers[i], "work failed", now=T0, tx=tx)
                    given_back[i] += 3 + freetier.credit(30, now=T0, tx=tx)

    # When they all run at once, no reservation errors (the old statement broke the pool's
    # CHECK whenever a give-back committed while it waited for the pool row)
    run_parallel(24, work)
    # Then every sat is accounted for: the pool moved by exactly what was debited and given
    assert pool() == 20 - sum(debited) + sum(given_back)
    assert sum(debited) > 0
    # And each reserving identity's day counts exactly what it took
    for i, caller in enumerate(callers):
        if i % 3 != 2:
            assert counter(caller) == debited[i]
