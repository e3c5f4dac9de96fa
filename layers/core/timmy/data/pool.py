"""Data access for the generosity pool and the free-tier grants audit log.

The pool is one typed row (``CHECK (balance_sats >= 0)``). A reservation is ONE statement:
it locks the caller's identity row and the pool row, computes how much may be absorbed (the
daily budget left after the new-day reset, and what the pool holds), debits the pool and counts
the amount against the identity's day, all atomically. Being a single statement, it holds the
hot pool-row lock only while it runs: no client round trip happens under that lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from timmy.db.connection import Db

_DAY = "interval '1 day'"


@dataclass(frozen=True)
class Reservation:
    debited: int
    balance_after: int


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


def absorbed_today(tx: Db, pubkey: str, now: datetime) -> int | None:
    """Sats absorbed for this identity in its current day (0 after the reset); None if unknown."""
    value = tx.scalar(
        f"SELECT CASE WHEN :now - absorbed_reset_at >= {_DAY} THEN 0"
        " ELSE sats_absorbed_today END FROM nostr_identities WHERE pubkey = :pk",
        pk=pubkey,
        now=now,
    )
    return None if value is None else int(value)


def reserve(
    tx: Db, *, pubkey: str, requested: int, daily_budget: int, whole: bool, now: datetime
) -> Reservation | None:
    """Debit the pool for ``pubkey`` and count it against the identity's day.

    ``whole``: all of ``requested`` or nothing (a free request); otherwise as much as the day's
    budget and the pool allow (a partial grant). Returns None when the identity or the pool row
    does not exist; ``debited == 0`` when nothing could be reserved.
    """
    row = tx.one(
        f"""
        WITH ident AS (
            SELECT pubkey,
                   :now - absorbed_reset_at >= {_DAY} AS new_day,
                   CASE WHEN :now - absorbed_reset_at >= {_DAY} THEN 0
                        ELSE sats_absorbed_today END AS today
            FROM nostr_identities WHERE pubkey = :pk
            FOR UPDATE
        ), pool_row AS (
            SELECT balance_sats FROM generosity_pool WHERE singleton FOR UPDATE
        ), amount AS (
            SELECT CASE
                     WHEN CAST(:whole AS boolean) THEN
                       CASE WHEN :requested <= GREATEST(:budget - ident.today, 0)
                             AND :requested <= pool_row.balance_sats
                            THEN CAST(:requested AS bigint) ELSE 0 END
                     ELSE LEAST(CAST(:requested AS bigint), GREATEST(:budget - ident.today, 0),
                                pool_row.balance_sats)
                   END AS n,
                   ident.new_day
            FROM ident, pool_row
        ), debit AS (
            UPDATE generosity_pool SET balance_sats = balance_sats - amount.n, updated_at = :now
            FROM amount WHERE singleton AND amount.n > 0
            RETURNING balance_sats
        ), counted AS (
            UPDATE nostr_identities SET
                sats_absorbed_today = CASE WHEN amount.new_day THEN amount.n
                                           ELSE sats_absorbed_today + amount.n END,
                absorbed_reset_at = CASE WHEN amount.new_day THEN :now
                                         ELSE absorbed_reset_at END,
                updated_at = :now
            FROM amount WHERE pubkey = :pk AND amount.n > 0
            RETURNING 1
        )
        SELECT amount.n AS debited,
               COALESCE((SELECT balance_sats FROM debit), pool_row.balance_sats) AS balance_after
        FROM amount, pool_row
        """,
        pk=pubkey,
        requested=requested,
        budget=daily_budget,
        whole=whole,
        now=now,
    )
    if row is None:
        return None
    return Reservation(debited=int(row["debited"]), balance_after=int(row["balance_after"]))


def release(tx: Db, *, pubkey: str | None, sats: int, now: datetime) -> int:
    """Return ``sats`` to the pool and uncount them from the identity's current day."""
    after = tx.scalar(
        "UPDATE generosity_pool SET balance_sats = balance_sats + :n, updated_at = :now"
        " WHERE singleton RETURNING balance_sats",
        n=sats,
        now=now,
    )
    if pubkey is not None:
        tx.execute(
            "UPDATE nostr_identities SET"
            " sats_absorbed_today = GREATEST(sats_absorbed_today - :n, 0), updated_at = :now"
            f" WHERE pubkey = :pk AND :now - absorbed_reset_at < {_DAY}",
            pk=pubkey,
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


def grants_total(tx: Db) -> int:
    return int(tx.scalar("SELECT COALESCE(SUM(sats_absorbed), 0) FROM free_tier_grants"))
