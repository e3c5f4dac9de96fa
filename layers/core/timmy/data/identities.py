"""Data access for Nostr identities, login challenges and used NIP-98 events.

Trust arithmetic happens in SQL, in one statement per change, so concurrent writers never
lose an update: each ``UPDATE`` reads the row's latest committed version under its row lock.
The lazy decay is the same expression everywhere (``_DECAYED_SCORE``): the score multiplied by
``keep`` once per whole decay period elapsed since ``GREATEST(last_seen, decayed_through)``.
Reads compute it; only a write (an outcome or a sighting) stores it. The tier is computed from
the score in the statement that needs it (``_tier_sql``), never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from timmy.db.connection import Db, Row


class TrustTier(StrEnum):
    """A caller's trust tier: anonymous without a Nostr identity, else earned by paying."""

    # An identity's tier is computed from its score by ``_tier_sql`` and nowhere else.

    ANONYMOUS = "anonymous"
    NEW = "new"
    ESTABLISHED = "established"
    TRUSTED = "trusted"
    ELITE = "elite"


@dataclass(frozen=True)
class TrustRules:
    """The numbers the SQL needs: tier thresholds, the decay period and factor, and what
    paying earns."""

    established: int
    trusted: int
    elite: int
    decay_period_seconds: int
    decay_keep: Decimal  # fraction of the score kept per period, 0..1
    sats_per_point: int  # sats paid for work that earn one point
    max_points_per_day: int  # the most an identity's payments earn in one day

    def threshold(self, tier: TrustTier) -> int:
        """The score that reaches ``tier``."""
        return {
            TrustTier.ESTABLISHED: self.established,
            TrustTier.TRUSTED: self.trusted,
            TrustTier.ELITE: self.elite,
        }.get(tier, 0)


@dataclass(frozen=True, slots=True)
class Identity:
    """An identity's trust as of the instant it was read or written (``:now``)."""

    pubkey: str
    trust_score: int  # after any pending decay
    tier: TrustTier
    interaction_count: int
    success_count: int
    failure_count: int
    sats_absorbed_today: int  # of the free tier's daily budget; 0 once its day is over
    last_seen: datetime
    created_at: datetime

    @classmethod
    def of(cls, row: Row) -> Identity:
        return cls(**{**row, "tier": TrustTier(row["tier"])})


@dataclass(frozen=True, slots=True)
class Challenge:
    nonce: str
    expires_at: datetime
    used_at: datetime | None


_T = "nostr_identities"
_DAY = "interval '1 day'"
# Whole decay periods elapsed since the last sighting (or the end of the last decay charged),
# and the score after charging them; see the SQL functions in migration 0002.
_PERIODS = (
    f"trust_decay_periods(GREATEST({_T}.last_seen, {_T}.decayed_through),"
    " CAST(:now AS timestamptz), CAST(:period AS integer))"
)
_DECAYED_SCORE = f"trust_decayed_score({_T}.trust_score, {_PERIODS}, CAST(:keep AS numeric))"

# The free tier's daily counter restarts a day after it was last reset (the reset itself is
# written by the pool's reservation statement).
NEW_ABSORBING_DAY = f"CAST(:now AS timestamptz) - {_T}.absorbed_reset_at >= {_DAY}"
ABSORBED_TODAY = f"CASE WHEN {NEW_ABSORBING_DAY} THEN 0 ELSE {_T}.sats_absorbed_today END"


def _tier_sql(score_sql: str) -> str:
    """The one computation of a tier: the highest whose threshold the score reaches."""
    return (
        f"CASE WHEN {score_sql} >= CAST(:elite AS integer) THEN CAST(:tier_elite AS text)"
        f" WHEN {score_sql} >= CAST(:trusted AS integer) THEN CAST(:tier_trusted AS text)"
        f" WHEN {score_sql} >= CAST(:established AS integer)"
        " THEN CAST(:tier_established AS text)"
        " ELSE CAST(:tier_new AS text) END"
    )


def _identity_columns(score_sql: str) -> str:
    return (
        f"{_T}.pubkey, {score_sql} AS trust_score, {_tier_sql(score_sql)} AS tier,"
        f" {_T}.interaction_count, {_T}.success_count, {_T}.failure_count,"
        f" {ABSORBED_TODAY} AS sats_absorbed_today, {_T}.last_seen, {_T}.created_at"
    )


# As read: the score and tier as they are after any pending decay (nothing is stored).
_DECAYED_COLUMNS = _identity_columns(_DECAYED_SCORE)
# As written: the stored score, which the write has just charged any pending decay to.
_WRITTEN_COLUMNS = _identity_columns(f"{_T}.trust_score")


def rule_params(rules: TrustRules) -> dict[str, object]:
    """The trust SQL's parameters besides ``:now`` (the tier's, the decay's)."""
    return {
        "elite": rules.elite,
        "trusted": rules.trusted,
        "established": rules.established,
        "period": rules.decay_period_seconds,
        "keep": rules.decay_keep,
        "tier_elite": TrustTier.ELITE.value,
        "tier_trusted": TrustTier.TRUSTED.value,
        "tier_established": TrustTier.ESTABLISHED.value,
        "tier_new": TrustTier.NEW.value,
    }


def decayed_tier_sql() -> str:
    """SQL for a ``nostr_identities`` row's tier after any pending decay, computed on read
    (nothing is stored). It takes ``:now`` and the parameters of :func:`rule_params`."""
    return _tier_sql(_DECAYED_SCORE)


def ensure(tx: Db, pubkey: str) -> None:
    """Create the identity row if it is missing (takes no lock on an existing row)."""
    tx.execute(
        "INSERT INTO nostr_identities (pubkey) VALUES (:pk) ON CONFLICT (pubkey) DO NOTHING",
        pk=pubkey,
    )


def read_decayed(tx: Db, pubkey: str, *, now: datetime, rules: TrustRules) -> Identity | None:
    """The identity as it would be with any pending decay charged: score and tier computed on
    read, nothing stored. Reads never write (an estimate or a profile changes no row); the decay
    is charged, and stored, by the identity's next outcome or login (see ``record_outcome``)."""
    row = tx.one(
        f"SELECT {_DECAYED_COLUMNS} FROM nostr_identities WHERE pubkey = :pk",
        pk=pubkey,
        now=now,
        **rule_params(rules),
    )
    return None if row is None else Identity.of(row)


# What paying earns. An identity's day of payments lasts 24 hours from paid_day_started_at;
# the points of a day are LEAST(max, floor(paid in the day / sats per point)), so an outcome
# earns what it adds to that: many small payments earn what one payment of their sum would.
_NEW_PAY_DAY = f"CAST(:now AS timestamptz) - {_T}.paid_day_started_at >= INTERVAL '1 day'"
_PAID_BEFORE = f"CASE WHEN {_NEW_PAY_DAY} THEN 0 ELSE {_T}.paid_sats_today END"


def _day_points(paid_sql: str) -> str:
    return f"LEAST(CAST(:max_points AS bigint), ({paid_sql}) / CAST(:sats_per_point AS bigint))"


_EARNED = (
    f"({_day_points(f'{_PAID_BEFORE} + CAST(:paid AS bigint)')} - {_day_points(_PAID_BEFORE)})"
)

# Creates the identity or, when it exists, charges its pending decay and then applies the
# outcome (what it paid earns, less any penalty) — in one statement, under the row lock, so
# concurrent writers lose nothing and together never earn more than the day's cap.
_NEW_SCORE = (
    f"CAST(GREATEST(0, {_day_points('CAST(:paid AS bigint)')} - CAST(:penalty AS integer))"
    " AS integer)"
)
_UPDATED_SCORE = (
    f"CAST(GREATEST(0, {_DECAYED_SCORE} + {_EARNED} - CAST(:penalty AS integer)) AS integer)"
)
_UPSERT_OUTCOME = (
    "INSERT INTO nostr_identities (pubkey, trust_score, success_count, failure_count,"
    " interaction_count, paid_sats_today, paid_day_started_at, last_seen, created_at,"
    " updated_at)"
    f" SELECT CAST(:pk AS text), {_NEW_SCORE},"
    " CAST(:successes AS integer), CAST(:failures AS integer), CAST(:interactions AS integer),"
    " CAST(:paid AS bigint), CAST(:now AS timestamptz),"
    " CAST(:now AS timestamptz), CAST(:now AS timestamptz), CAST(:now AS timestamptz) {source}"
    " ON CONFLICT (pubkey) DO UPDATE SET"
    f" trust_score = {_UPDATED_SCORE},"
    f" success_count = {_T}.success_count + EXCLUDED.success_count,"
    f" failure_count = {_T}.failure_count + EXCLUDED.failure_count,"
    f" interaction_count = {_T}.interaction_count + EXCLUDED.interaction_count,"
    f" paid_sats_today = {_PAID_BEFORE} + EXCLUDED.paid_sats_today,"
    f" paid_day_started_at = CASE WHEN {_NEW_PAY_DAY} THEN EXCLUDED.paid_day_started_at"
    f"   ELSE {_T}.paid_day_started_at END,"
    f" last_seen = GREATEST({_T}.last_seen, EXCLUDED.last_seen),"
    " updated_at = EXCLUDED.updated_at"
    f" RETURNING {_WRITTEN_COLUMNS}"
)


def _upsert_outcome(*, source: str) -> str:
    """The upsert, its one proposed row selected ``source`` (e.g. "FROM consumed": no row when
    the gate before it did nothing)."""
    return _UPSERT_OUTCOME.replace("{source}", source)


def _outcome_params(
    pubkey: str,
    now: datetime,
    rules: TrustRules,
    *,
    paid_sats: int = 0,
    penalty: int = 0,
    successes: int = 0,
    failures: int = 0,
) -> dict[str, object]:
    return {
        "pk": pubkey,
        "now": now,
        "paid": paid_sats,
        "penalty": penalty,
        "successes": successes,
        "failures": failures,
        "interactions": 1 if successes or failures else 0,
        "sats_per_point": rules.sats_per_point,
        "max_points": rules.max_points_per_day,
        **rule_params(rules),
    }


def record_outcome(
    tx: Db,
    pubkey: str,
    *,
    now: datetime,
    rules: TrustRules,
    paid_sats: int = 0,
    penalty: int = 0,
    successes: int = 0,
    failures: int = 0,
) -> Identity:
    """Apply pending decay, add what ``paid_sats`` earns today (see ``_EARNED``) less
    ``penalty`` points (the score floors at 0), count the interaction and mark the identity
    seen — creating it if needed.

    All of them zero is a bare sighting (a login).
    """
    row = tx.one(
        _upsert_outcome(source=""),
        **_outcome_params(
            pubkey,
            now,
            rules,
            paid_sats=paid_sats,
            penalty=penalty,
            successes=successes,
            failures=failures,
        ),
    )
    assert row is not None  # an upsert always returns its row
    return Identity.of(row)


# ---------------------------------------------------------------- login challenges


def insert_challenge(tx: Db, nonce: str, *, expires_at: datetime) -> None:
    tx.execute(
        "INSERT INTO identity_challenges (nonce, expires_at) VALUES (:n, :exp)",
        n=nonce,
        exp=expires_at,
    )


def consume_challenge_and_sight(
    tx: Db, nonce: str, *, pubkey: str, now: datetime, rules: TrustRules
) -> Identity | None:
    """Use an unused, unexpired challenge and record the sighting of ``pubkey``.

    Returns the identity row only for the one caller that used the challenge (None when it is
    unknown, expired or already used: see ``get_challenge`` for which). One statement, one
    round trip: the conditional UPDATE re-checks ``used_at`` under the row lock, so of two
    concurrent callers exactly one gets a row.
    """
    row = tx.one(
        "WITH consumed AS (UPDATE identity_challenges SET used_at = CAST(:now AS timestamptz),"
        " used_by = :pk WHERE nonce = :nonce AND used_at IS NULL"
        " AND expires_at > CAST(:now AS timestamptz) RETURNING nonce) "
        + _upsert_outcome(source="FROM consumed"),
        nonce=nonce,
        **_outcome_params(pubkey, now, rules),
    )
    return None if row is None else Identity.of(row)


def get_challenge(tx: Db, nonce: str) -> Challenge | None:
    row = tx.one(
        "SELECT nonce, expires_at, used_at FROM identity_challenges WHERE nonce = :n", n=nonce
    )
    return None if row is None else Challenge(**row)


def purge_challenges(tx: Db, *, expired_before: datetime, limit: int = 100) -> int:
    """Delete a bounded batch of long-expired challenges (housekeeping on issue)."""
    return tx.execute(
        "DELETE FROM identity_challenges WHERE nonce IN (SELECT nonce FROM identity_challenges"
        " WHERE expires_at < :before ORDER BY expires_at LIMIT CAST(:lim AS integer))",
        before=expired_before,
        lim=limit,
    )


# ---------------------------------------------------------------- NIP-98 replay protection


def claim_auth_event_and_sight(
    tx: Db, event_id: str, *, pubkey: str, forget_after: datetime, now: datetime, rules: TrustRules
) -> Identity | None:
    """Remember a NIP-98 event id and record the sighting; None when the id was already used.

    A concurrent duplicate waits on the first insert's unique-index entry and then does
    nothing, so exactly one caller gets a row.
    """
    row = tx.one(
        "WITH claimed AS (INSERT INTO nostr_auth_events (event_id, pubkey, expires_at)"
        " VALUES (:event_id, :pk, CAST(:forget_after AS timestamptz))"
        " ON CONFLICT (event_id) DO NOTHING RETURNING event_id) "
        + _upsert_outcome(source="FROM claimed"),
        event_id=event_id,
        forget_after=forget_after,
        **_outcome_params(pubkey, now, rules),
    )
    return None if row is None else Identity.of(row)


def purge_auth_events(tx: Db, *, expired_before: datetime, limit: int = 100) -> int:
    return tx.execute(
        "DELETE FROM nostr_auth_events WHERE event_id IN (SELECT event_id FROM nostr_auth_events"
        " WHERE expires_at < :before ORDER BY expires_at LIMIT CAST(:lim AS integer))",
        before=expired_before,
        lim=limit,
    )
