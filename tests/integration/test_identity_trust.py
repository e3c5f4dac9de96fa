"""TrustService against real PostgreSQL: tiers, failures, lazy decay, concurrency."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from concurrency import together
from nostr_keys import NostrKey

import timmy.identity as identity
from timmy.data import identities
from timmy.data.identities import TrustTier
from timmy.db.connection import NestedTransactionError, db, transaction
from timmy.identity.settings import settings as identity_settings
from timmy.runtime import reset_caches

DAY = timedelta(days=1)
# Defaults: 10 sats paid earn a point, so a success paid 50 sats earns 5.
PAID = 50


@pytest.fixture(autouse=True)
def _no_daily_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about tiers and decay: lift the day's cap on earned points (the cap has
    its own tests in test_trust_earning.py)."""
    monkeypatch.setenv("TRUST_MAX_POINTS_PER_DAY", "10000")
    reset_caches()


@pytest.fixture
def t0(clean_db: None) -> datetime:
    # A little ahead of the database's now(), which stamps new rows' last_seen.
    return identity.utcnow() + timedelta(minutes=1)


@pytest.fixture
def pubkey(clean_db: None) -> str:
    return NostrKey().pubkey_hex


def stored(pubkey: str) -> dict[str, object]:
    row = db().one("SELECT * FROM nostr_identities WHERE pubkey = :pk", pk=pubkey)
    assert row is not None
    return row


def succeed(pubkey: str, times: int, now: datetime) -> None:
    for _ in range(times):
        identity.record_success(pubkey, paid_sats=PAID, now=now)


# ---------------------------------------------------------------- the contract


def test_anonymous_and_unknown_callers(pubkey: str) -> None:
    assert identity.tier_of(None) == TrustTier.ANONYMOUS
    assert identity.tier_of(pubkey) == TrustTier.NEW
    # Reading never creates an identity
    assert db().scalar("SELECT count(*) FROM nostr_identities") == 0


def test_ensure_identity_lives_and_dies_with_the_callers_transaction(pubkey: str) -> None:
    def bind_then_fail() -> None:
        with transaction() as tx:
            identity.ensure_identity(tx, pubkey)
            raise RuntimeError("the caller's insert failed")

    with pytest.raises(RuntimeError):
        bind_then_fail()
    assert db().scalar("SELECT count(*) FROM nostr_identities") == 0

    with transaction() as tx:
        identity.ensure_identity(tx, pubkey)
        identity.ensure_identity(tx, pubkey)  # idempotent
    assert identity.tier_of(pubkey) == TrustTier.NEW


def test_ensure_identity_refuses_a_non_pubkey(clean_db: None) -> None:
    with pytest.raises(ValueError, match="64 lowercase hex"), transaction() as tx:
        identity.ensure_identity(tx, "AB" * 32)


def test_recording_for_anonymous_is_a_no_op(clean_db: None) -> None:
    identity.record_success(None, paid_sats=100)
    identity.record_failure(None)
    assert db().scalar("SELECT count(*) FROM nostr_identities") == 0


def test_recording_for_an_unseen_pubkey_creates_it(pubkey: str, t0: datetime) -> None:
    identity.record_success(pubkey, paid_sats=PAID, now=t0)
    row = stored(pubkey)
    assert (row["trust_score"], row["success_count"], row["interaction_count"]) == (5, 1, 1)
    assert row["last_seen"] == t0


# ---------------------------------------------------------------- tiers


def test_successes_promote_through_every_tier(pubkey: str, t0: datetime) -> None:
    # +5 per success paid 50 sats; established 10, trusted 50, elite 200.
    seen = []
    for _ in range(40):
        identity.record_success(pubkey, paid_sats=PAID, now=t0)
        seen.append(identity.tier_of(pubkey, now=t0))
    assert seen[0] == TrustTier.NEW
    assert seen[1] == TrustTier.ESTABLISHED  # score 10
    assert seen[8] == TrustTier.ESTABLISHED  # score 45
    assert seen[9] == TrustTier.TRUSTED  # score 50
    assert seen[38] == TrustTier.TRUSTED  # score 195
    assert seen[39] == TrustTier.ELITE  # score 200
    assert stored(pubkey)["trust_score"] == 200


def test_a_failure_outweighs_a_success_and_demotes(pubkey: str, t0: datetime) -> None:
    succeed(pubkey, 10, t0)  # 50: trusted
    assert identity.tier_of(pubkey, now=t0) == TrustTier.TRUSTED

    identity.record_failure(pubkey, now=t0)

    row = stored(pubkey)
    assert row["trust_score"] == 40
    assert identity.tier_of(pubkey, now=t0) == TrustTier.ESTABLISHED
    assert (row["success_count"], row["failure_count"], row["interaction_count"]) == (10, 1, 11)


def test_the_score_floors_at_zero(pubkey: str, t0: datetime) -> None:
    identity.record_success(pubkey, paid_sats=PAID, now=t0)
    identity.record_failure(pubkey, now=t0)
    identity.record_failure(pubkey, now=t0)
    assert stored(pubkey)["trust_score"] == 0
    identity.record_success(pubkey, paid_sats=PAID, now=t0)
    assert stored(pubkey)["trust_score"] == 5


def test_thresholds_come_from_config(
    pubkey: str, t0: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    succeed(pubkey, 2, t0)
    assert identity.tier_of(pubkey, now=t0) == TrustTier.ESTABLISHED

    # When the operator raises the bar, reads follow at once (the tier is computed on read)
    monkeypatch.setenv("TRUST_THRESHOLD_ESTABLISHED", "20")
    reset_caches()

    assert identity.tier_of(pubkey, now=t0) == TrustTier.NEW
    assert identity.profile(pubkey, now=t0).tier == TrustTier.NEW
    # And so do writes (a free success: counted, but it earns nothing)
    identity.record_success(pubkey, paid_sats=0, now=t0)
    assert stored(pubkey)["trust_score"] == 10
    assert identity.tier_of(pubkey, now=t0) == TrustTier.NEW


# ---------------------------------------------------------------- decay


def test_no_decay_within_the_grace_period(pubkey: str, t0: datetime) -> None:
    succeed(pubkey, 10, t0)
    profile = identity.profile(pubkey, now=t0 + 29 * DAY)
    assert (profile.score, profile.tier) == (50, TrustTier.TRUSTED)


def test_decay_after_absence_is_computed_on_read_and_never_stored(
    pubkey: str, t0: datetime
) -> None:
    # Given a trusted identity (50) that then stays away; defaults: -10% per 30 days
    succeed(pubkey, 10, t0)
    before = stored(pubkey)

    # When it is read after 31 days, one period is pending: 45, established
    assert identity.tier_of(pubkey, now=t0 + 31 * DAY) == TrustTier.ESTABLISHED
    assert identity.profile(pubkey, now=t0 + 40 * DAY).score == 45
    # The second period is pending at 60 days: 50 * 0.81 = 40.5 -> 40
    assert identity.profile(pubkey, now=t0 + 61 * DAY).score == 40
    # Reading wrote nothing: the decay is charged by the next outcome or login
    assert stored(pubkey) == before


def test_a_long_absence_compounds(pubkey: str, t0: datetime) -> None:
    succeed(pubkey, 40, t0)  # 200: elite
    # Five periods at once: 200 * 0.9^5 = 118.098 -> 118
    profile = identity.profile(pubkey, now=t0 + 151 * DAY)
    assert (profile.score, profile.tier) == (118, TrustTier.TRUSTED)


def test_returning_pays_the_decay_before_earning(pubkey: str, t0: datetime) -> None:
    succeed(pubkey, 10, t0)  # 50
    back = t0 + 91 * DAY

    identity.record_success(pubkey, paid_sats=PAID, now=back)

    # 3 periods: 50 * 0.729 = 36.45 -> 36, then +5
    row = stored(pubkey)
    assert row["trust_score"] == 41
    assert row["last_seen"] == back
    # The clock restarts from the new sighting
    assert identity.profile(pubkey, now=back + 29 * DAY).score == 41


def test_decay_is_configurable(pubkey: str, t0: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUST_DECAY_AFTER_DAYS", "7")
    monkeypatch.setenv("TRUST_DECAY_PCT", "50")
    reset_caches()
    succeed(pubkey, 10, t0)  # 50
    assert identity.profile(pubkey, now=t0 + 6 * DAY).score == 50
    assert identity.profile(pubkey, now=t0 + 15 * DAY).score == 12  # 50 * 0.25 = 12.5


# ---------------------------------------------------------------- concurrency


def test_fifty_concurrent_successes_lose_no_update(pubkey: str, t0: datetime) -> None:
    # Given an identity row that exists
    with transaction() as tx:
        identity.ensure_identity(tx, pubkey)

    # When 50 threads, each on its own connection, record a success at once
    errors = together(*[lambda: identity.record_success(pubkey, paid_sats=PAID, now=t0)] * 50)

    # Then every one counted
    assert errors == []
    row = stored(pubkey)
    assert (row["trust_score"], row["success_count"], row["interaction_count"]) == (250, 50, 50)
    assert identity.tier_of(pubkey, now=t0) == TrustTier.ELITE


def test_concurrent_first_contact_creates_one_row(pubkey: str, t0: datetime) -> None:
    errors = together(*[lambda: identity.record_success(pubkey, paid_sats=PAID, now=t0)] * 20)
    assert errors == []
    assert stored(pubkey)["success_count"] == 20


def test_concurrent_mixed_outcomes_sum_exactly(pubkey: str, t0: datetime) -> None:
    with transaction() as tx:
        identity.ensure_identity(tx, pubkey)
    db().execute("UPDATE nostr_identities SET trust_score = 1000 WHERE pubkey = :pk", pk=pubkey)

    work = [lambda: identity.record_success(pubkey, paid_sats=PAID, now=t0)] * 25
    work += [lambda: identity.record_failure(pubkey, now=t0)] * 25
    errors = together(*work)

    assert errors == []
    row = stored(pubkey)
    assert row["trust_score"] == 1000 + 25 * 5 - 25 * 10
    assert (row["success_count"], row["failure_count"]) == (25, 25)
    assert identity.tier_of(pubkey, now=t0) == TrustTier.ELITE


def test_concurrent_decaying_reads_write_nothing(pubkey: str, t0: datetime) -> None:
    succeed(pubkey, 10, t0)  # 50
    version = db().scalar("SELECT xmin::text FROM nostr_identities WHERE pubkey = :pk", pk=pubkey)
    later = t0 + 31 * DAY
    seen: list[str] = []
    errors = together(*[lambda: seen.append(identity.tier_of(pubkey, now=later))] * 20)
    assert errors == []
    assert seen == ["established"] * 20
    assert stored(pubkey)["trust_score"] == 50
    assert (
        db().scalar("SELECT xmin::text FROM nostr_identities WHERE pubkey = :pk", pk=pubkey)
        == version
    )


def test_sats_absorbed_today_resets_after_a_day(pubkey: str, t0: datetime) -> None:
    with transaction() as tx:
        identity.ensure_identity(tx, pubkey)
    db().execute(
        "UPDATE nostr_identities SET sats_absorbed_today = 70, absorbed_reset_at = :at"
        " WHERE pubkey = :pk",
        pk=pubkey,
        at=t0,
    )
    assert identity.profile(pubkey, now=t0 + timedelta(hours=23)).sats_absorbed_today == 70
    assert identity.profile(pubkey, now=t0 + DAY).sats_absorbed_today == 0


def test_the_tier_is_the_highest_whose_threshold_the_score_reaches(
    pubkey: str, t0: datetime
) -> None:
    # Defaults: established 10, trusted 50, elite 200. Reads and writes compute it alike.
    expected = {
        0: TrustTier.NEW,
        9: TrustTier.NEW,
        10: TrustTier.ESTABLISHED,
        49: TrustTier.ESTABLISHED,
        50: TrustTier.TRUSTED,
        199: TrustTier.TRUSTED,
        200: TrustTier.ELITE,
        10_000: TrustTier.ELITE,
    }
    rules = identity_settings().rules
    for score, tier in expected.items():
        db().execute(
            "INSERT INTO nostr_identities (pubkey, trust_score, last_seen) VALUES (:pk, :s, :at)"
            " ON CONFLICT (pubkey) DO UPDATE SET trust_score = :s, last_seen = :at",
            pk=pubkey,
            s=score,
            at=t0,
        )
        with transaction() as tx:
            read = identities.read_decayed(tx, pubkey, now=t0, rules=rules)
            written = identities.record_outcome(tx, pubkey, now=t0, rules=rules)  # a sighting
        assert read is not None
        assert (read.trust_score, read.tier) == (score, tier)
        assert (written.trust_score, written.tier) == (score, tier)


def test_own_transaction_functions_refuse_to_commit_the_callers(pubkey: str, t0: datetime) -> None:
    # Connections are per thread: a nested transaction would COMMIT the caller's half-way.
    def nested() -> None:
        with transaction() as tx:
            identity.ensure_identity(tx, pubkey)
            identity.record_success(pubkey, paid_sats=PAID, now=t0)

    with pytest.raises(NestedTransactionError):
        nested()
    # The caller's work was rolled back, not committed by the nested call
    assert db().scalar("SELECT count(*) FROM nostr_identities") == 0
    # profile() can join the caller's transaction instead
    with transaction() as tx:
        assert identity.profile(pubkey, now=t0, tx=tx).tier == TrustTier.NEW
