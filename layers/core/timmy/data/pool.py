"""Data access for the generosity pool and the free-tier grants audit log.

The pool is one typed row (``CHECK (balance_sats >= 0)``). A reservation is ONE statement:
it locks the caller's identity row and the pool row, computes how much may be absorbed (the
budget of the identity's tier after lazy trust decay, less what its day has absorbed after
the new-day reset, and what the pool holds), debits the pool and counts the amount against the
identity's day, all atomically. Being a single statement, it holds the hot pool-row lock only
while it runs: no client round trip happens under that lock.

The debit writes the balance it decided on (the locked row's, less the amount), never
``balance_sats - amount``: under READ COMMITTED the ``FOR UPDATE`` that waited for the pool row
reads its latest version, but the ``UPDATE`` in the same statement first builds its new row
from the statement snapshot's older version and checks ``balance_sats >= 0`` on it, before it
notices the newer version. After a concurrent credit or release that older balance can be
below the amount, and the CHECK failed on a row that would never have been written. The same
holds for the identity's day counter, so it too is written from the locked row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from timmy.data import identities
from timmy.data.identities import TrustRules, TrustTier
from timmy.db.connection import Db


class Serve(StrEnum):
    """The free tier's decision for a request: it pays for all of it, part of it, or none."""

    FREE = "free"  # the pool covers the whole estimate (debited at decision time)
    PARTIAL = "partial"  # the pool covers part of it (reserved when the rest is paid)
    GATE = "gate"  # the caller pays everything


@dataclass(frozen=True)
class Reservation:
    """What one reservation statement saw and did."""

    debited: int  # sats taken from the pool and counted against the identity's day
    daily_budget: int  # the identity's tier budget (after lazy trust decay)
    absorbed_today: int  # counted against its day before this reservation (after the reset)
    pool_before: int  # the pool's balance before this reservation


def seed(tx: Db, initial_sats: int) -> bool:
    """Create the pool with its initial balance, once; True when this call created it."""
    return (
        tx.execute(
            "INSERT INTO generosity_pool (singleton, balance_sats) VALUES (true, :n)"
            " ON CONFLICT (singleton) DO NOTHING",
            n=initial_sats,
        )
        == 1
    )


def balance(tx: Db) -> int | None:
    value = tx.scalar("SELECT balance_sats FROM generosity_pool WHERE singleton")
    return None if value is None else int(value)


def _budget_params(budgets: dict[TrustTier, int], rules: TrustRules) -> dict[str, object]:
    return {
        "b_new": budgets.get(TrustTier.NEW, 0),
        "b_established": budgets.get(TrustTier.ESTABLISHED, 0),
        "b_trusted": budgets.get(TrustTier.TRUSTED, 0),
        "b_elite": budgets.get(TrustTier.ELITE, 0),
        **identities.rule_params(rules),
    }


def _identity_columns() -> str:
    """The identity's daily budget (by its decayed tier) and today's absorbed sats."""
    return f"""
        CASE {identities.decayed_tier_sql()}
             WHEN CAST(:tier_elite AS text) THEN CAST(:b_elite AS bigint)
             WHEN CAST(:tier_trusted AS text) THEN CAST(:b_trusted AS bigint)
             WHEN CAST(:tier_established AS text) THEN CAST(:b_established AS bigint)
             ELSE CAST(:b_new AS bigint) END AS budget,
        {identities.NEW_ABSORBING_DAY} AS new_day,
        {identities.ABSORBED_TODAY} AS today"""


def snapshot(
    tx: Db, *, pubkey: str, budgets: dict[TrustTier, int], rules: TrustRules, now: datetime
) -> Reservation | None:
    """What a reservation would see now, changing nothing (``debited`` is always 0).

    None when the identity does not exist; ``pool_before`` is -1 when the pool is unseeded.
    """
    row = tx.one(
        f"SELECT {_identity_columns()},"
        " COALESCE((SELECT balance_sats FROM generosity_pool WHERE singleton), -1) AS pool"
        " FROM nostr_identities WHERE pubkey = :pk",
        pk=pubkey,
        now=now,
        **_budget_params(budgets, rules),
    )
    if row is None:
        return None
    return Reservation(0, int(row["budget"]), int(row["today"]), int(row["pool"]))


def reserve(
    tx: Db,
    *,
    pubkey: str,
    requested: int,
    budgets: dict[TrustTier, int],
    rules: TrustRules,
    whole: bool,
    now: datetime,
) -> Reservation | None:
    """Debit the pool for ``pubkey`` and count it against the identity's day.

    ``whole``: all of ``requested`` or nothing (a free request); otherwise as much as the day's
    budget and the pool allow (a partial grant). The identity's tier, hence its budget, is
    computed in the same statement (with any pending trust decay, not stored). Returns None
    when the identity or the pool row does not exist.
    """
    row = tx.one(
        f"""
        WITH ident AS (
            SELECT pubkey, {_identity_columns()}
            FROM nostr_identities WHERE pubkey = :pk
            FOR UPDATE
        ), pool_row AS (
            SELECT balance_sats FROM generosity_pool WHERE singleton FOR UPDATE
        ), amount AS (
            SELECT CASE
                     WHEN CAST(:whole AS boolean) THEN
                       CASE WHEN :requested <= GREATEST(ident.budget - ident.today, 0)
                             AND :requested <= pool_row.balance_sats
                            THEN CAST(:requested AS bigint) ELSE 0 END
                     ELSE LEAST(CAST(:requested AS bigint),
                                GREATEST(ident.budget - ident.today, 0),
                                pool_row.balance_sats)
                   END AS n,
                   ident.new_day, ident.budget, ident.today, pool_row.balance_sats AS pool
            FROM ident, pool_row
        ), debit AS (
            UPDATE generosity_pool SET balance_sats = amount.pool - amount.n,
                                       updated_at = CAST(:now AS timestamptz)
            FROM amount WHERE singleton AND amount.n > 0
            RETURNING balance_sats
        ), counted AS (
            UPDATE nostr_identities SET
                sats_absorbed_today = amount.today + amount.n,
                absorbed_reset_at = CASE WHEN amount.new_day THEN CAST(:now AS timestamptz)
                                         ELSE absorbed_reset_at END,
                updated_at = CAST(:now AS timestamptz)
            FROM amount WHERE pubkey = :pk AND amount.n > 0
            RETURNING 1
        )
        SELECT n AS debited, budget, today, pool FROM amount
        """,
        pk=pubkey,
        requested=requested,
        whole=whole,
        now=now,
        **_budget_params(budgets, rules),
    )
    if row is None:
        return None
    return Reservation(
        debited=int(row["debited"]),
        daily_budget=int(row["budget"]),
        absorbed_today=int(row["today"]),
        pool_before=int(row["pool"]),
    )


def release(tx: Db, *, pubkey: str | None, sats: int, now: datetime) -> int:
    """Return ``sats`` to the pool and uncount them from the identity's current day.

    Locks in the same order as :func:`reserve` (identity row, then pool row), so a release
    and a reservation of the same caller can never deadlock.
    """
    if pubkey is not None:
        tx.execute(
            "UPDATE nostr_identities SET"
            f" sats_absorbed_today = CASE WHEN {identities.NEW_ABSORBING_DAY}"
            " THEN sats_absorbed_today ELSE GREATEST(sats_absorbed_today - :n, 0) END,"
            " updated_at = CAST(:now AS timestamptz) WHERE pubkey = :pk",
            pk=pubkey,
            n=sats,
            now=now,
        )
    after = tx.scalar(
        "UPDATE generosity_pool SET balance_sats = balance_sats + :n,"
        " updated_at = CAST(:now AS timestamptz) WHERE singleton RETURNING balance_sats",
        n=sats,
        now=now,
    )
    return int(after)


def credit(tx: Db, *, sats: int, initial_sats: int, now: datetime) -> int:
    """Add ``sats`` to the pool (seeding it first if this is the first boot)."""
    return int(
        tx.scalar(
            "INSERT INTO generosity_pool (singleton, balance_sats)"
            " VALUES (true, CAST(:initial AS bigint) + CAST(:n AS bigint))"
            " ON CONFLICT (singleton) DO UPDATE SET"
            " balance_sats = generosity_pool.balance_sats + CAST(:n AS bigint), updated_at = :now"
            " RETURNING balance_sats",
            initial=initial_sats,
            n=sats,
            now=now,
        )
    )


def insert_grant(
    tx: Db, *, pubkey: str, request_hash: str, sats_absorbed: int, pool_balance_after: int
) -> int:
    return int(
        tx.scalar(
            "INSERT INTO free_tier_grants (pubkey, request_hash, sats_absorbed,"
            " pool_balance_after) VALUES (:pk, :h, :n, :after) RETURNING id",
            pk=pubkey,
            h=request_hash,
            n=sats_absorbed,
            after=pool_balance_after,
        )
    )
