"""Trust is earned by paying (hardening issue, finding 2): free work earns nothing, paid work a
point per TRUST_SATS_PER_POINT sats (10) paid in a day, at most TRUST_MAX_POINTS_PER_DAY (20)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from concurrency import together
from nostr_keys import NostrKey

import timmy.identity as identity
from timmy.data.identities import TrustTier
from timmy.db.connection import db

DAY = timedelta(days=1)


@pytest.fixture
def t0(clean_db: None) -> datetime:
    return identity.utcnow() + timedelta(minutes=1)


@pytest.fixture
def pubkey(clean_db: None) -> str:
    return NostrKey().pubkey_hex


def stored(pubkey: str) -> dict[str, object]:
    row = db().one(
        "SELECT trust_score, success_count, failure_count, paid_sats_today"
        " FROM nostr_identities WHERE pubkey = :pk",
        pk=pubkey,
    )
    assert row is not None
    return row


def test_free_work_earns_no_trust(pubkey: str, t0: datetime) -> None:
    # Regression: 40 free "hi" requests used to make an identity elite
    for _ in range(40):
        identity.record_success(pubkey, paid_sats=0, now=t0)
    assert stored(pubkey) == {
        "trust_score": 0,
        "success_count": 40,
        "failure_count": 0,
        "paid_sats_today": 0,
    }
    assert identity.tier_of(pubkey, now=t0) == TrustTier.NEW


def test_points_follow_what_was_paid_in_the_day(pubkey: str, t0: datetime) -> None:
    identity.record_success(pubkey, paid_sats=95, now=t0)
    assert stored(pubkey)["trust_score"] == 9  # floor(95 / 10)
    # Small payments add up over the day: 95 + 3 + 2 = 100 sats, 10 points
    identity.record_success(pubkey, paid_sats=3, now=t0)
    assert stored(pubkey)["trust_score"] == 9
    identity.record_success(pubkey, paid_sats=2, now=t0)
    assert stored(pubkey)["trust_score"] == 10
    assert identity.tier_of(pubkey, now=t0) == TrustTier.ESTABLISHED


def test_a_day_earns_at_most_the_cap_and_the_next_day_earns_again(
    pubkey: str, t0: datetime
) -> None:
    for _ in range(5):
        identity.record_success(pubkey, paid_sats=100, now=t0)  # 500 sats would be 50 points
    assert stored(pubkey)["trust_score"] == 20
    assert stored(pubkey)["paid_sats_today"] == 500
    identity.record_success(pubkey, paid_sats=100, now=t0 + DAY - timedelta(seconds=1))
    assert stored(pubkey)["trust_score"] == 20
    # A day after the first payment a new day starts
    identity.record_success(pubkey, paid_sats=100, now=t0 + DAY)
    assert (stored(pubkey)["trust_score"], stored(pubkey)["paid_sats_today"]) == (30, 100)


def test_failures_still_cost_points(pubkey: str, t0: datetime) -> None:
    identity.record_success(pubkey, paid_sats=200, now=t0)  # 20
    identity.record_failure(pubkey, now=t0)
    assert stored(pubkey)["trust_score"] == 10
    assert identity.tier_of(pubkey, now=t0) == TrustTier.ESTABLISHED
    identity.record_failure(pubkey, now=t0)
    identity.record_failure(pubkey, now=t0)
    assert stored(pubkey)["trust_score"] == 0  # never below zero
    # What failures took is not earned back beyond the day's cap (200 sats counted already)
    identity.record_success(pubkey, paid_sats=10, now=t0)
    assert stored(pubkey)["trust_score"] == 0


def test_negative_payments_are_refused(pubkey: str, t0: datetime) -> None:
    with pytest.raises(ValueError, match="negative"):
        identity.record_success(pubkey, paid_sats=-10, now=t0)
    assert db().scalar("SELECT count(*) FROM nostr_identities") == 0


def test_concurrent_paid_successes_never_earn_more_than_the_cap(pubkey: str, t0: datetime) -> None:
    def succeed() -> None:
        identity.record_success(pubkey, paid_sats=10, now=t0)

    # 50 successes of 10 sats each, on their own connections at once: 50 points uncapped
    assert together(*[succeed] * 50) == []
    assert stored(pubkey) == {
        "trust_score": 20,
        "success_count": 50,
        "failure_count": 0,
        "paid_sats_today": 500,
    }
    assert identity.tier_of(pubkey, now=t0) == TrustTier.ESTABLISHED


def test_a_sybil_reaches_elite_only_by_paying_for_days(pubkey: str, t0: datetime) -> None:
    # Elite is 200 points: at least 2,000 sats paid, and at least 10 days at 20 points a day
    # however much is paid each day
    for day in range(9):
        identity.record_success(pubkey, paid_sats=10_000, now=t0 + day * DAY)
    assert identity.tier_of(pubkey, now=t0 + 9 * DAY) == TrustTier.TRUSTED
    identity.record_success(pubkey, paid_sats=10_000, now=t0 + 9 * DAY)
    assert identity.tier_of(pubkey, now=t0 + 9 * DAY) == TrustTier.ELITE
