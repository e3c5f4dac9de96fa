"""Data access for the ``accounts`` aggregate and its append-only ``account_ledger``.

A balance only changes in :func:`credit` and :func:`debit`, each one statement that moves the
balance and writes its ledger row together (a data-modifying CTE), so the two can never
disagree, whatever transaction the caller is in. A debit only succeeds while the balance covers
it; ``CHECK (balance_sats >= 0)`` backs that up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from timmy.db.connection import Db, Row


class LedgerReason(StrEnum):
    """Why a balance changed (``account_ledger.reason``)."""

    TOPUP = "topup"  # a paid top-up invoice (reference: its payment hash)
    WITHDRAWAL = "withdrawal"  # amount + fee reserve held for a payout (reference: payout hash)
    WITHDRAWAL_FEE_RETURN = "withdrawal_fee_return"  # the unused part of the fee reserve
    WITHDRAWAL_FAILED = "withdrawal_failed"  # a failed payout, credited back in full
    CHAT_HOLD = "chat_hold"  # a completion's maximum cost, held (reference: the request id)
    CHAT_RELEASE = "chat_release"  # the unused part of a completion's hold, or all of it
    HIRE_TASK_FEE = "hire_task_fee"  # posting a task (reference: the task id)
    HIRE_QUOTE_FEE = "hire_quote_fee"  # submitting a quote (reference: the quote id)
    HIRE_ESCROW_HOLD = "hire_escrow_hold"  # a quote's price into its escrow (ref: quote id)
    HIRE_ESCROW_RELEASE = "hire_escrow_release"  # the escrow to its contractor (ref: quote id)
    HIRE_ESCROW_REFUND = "hire_escrow_refund"  # the escrow back to its buyer (ref: quote id)
    HIRE_ESCROW_SPLIT = "hire_escrow_split"  # an operator's split of a dispute (ref: quote id)
    L402_REDEEM = "l402_redeem"  # an L402 credential's remainder moved in (ref: its token id)


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    balance_sats: int
    nostr_pubkey: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: int
    account_id: str
    amount_sats: int
    reason: LedgerReason
    reference: str
    created_at: datetime


_COLUMNS = "id::text AS id, balance_sats, nostr_pubkey, created_at, updated_at"
_LEDGER_COLUMNS = "id, account_id::text AS account_id, amount_sats, reason, reference, created_at"


def _account(row: Row) -> Account:
    return Account(**row)


def _maybe(row: Row | None) -> Account | None:
    return None if row is None else _account(row)


def insert(tx: Db, *, account_id: str, token_sha256: str, nostr_pubkey: str | None) -> Account:
    row = tx.one(
        "INSERT INTO accounts (id, token_sha256, nostr_pubkey) VALUES (:id, :t, :pk)"
        f" RETURNING {_COLUMNS}",
        id=account_id,
        t=token_sha256,
        pk=nostr_pubkey,
    )
    assert row is not None
    return _account(row)


def insert_if_absent(tx: Db, *, account_id: str, token_sha256: str) -> Account:
    """The account ``account_id``, created (with that token hash) unless it exists."""
    tx.execute(
        "INSERT INTO accounts (id, token_sha256) VALUES (:id, :t) ON CONFLICT (id) DO NOTHING",
        id=account_id,
        t=token_sha256,
    )
    account = get(tx, account_id)
    assert account is not None
    return account


def get(tx: Db, account_id: str) -> Account | None:
    return _maybe(tx.one(f"SELECT {_COLUMNS} FROM accounts WHERE id = :id", id=account_id))


def by_token_hash(tx: Db, token_sha256: str) -> Account | None:
    return _maybe(
        tx.one(f"SELECT {_COLUMNS} FROM accounts WHERE token_sha256 = :t", t=token_sha256)
    )


def credit(
    tx: Db, account_id: str, amount_sats: int, *, reason: LedgerReason, reference: str
) -> int | None:
    """Add to the balance and write the ledger row; returns the new balance.

    A top-up's reference is unique among top-up rows, so crediting the same paid invoice twice
    credits nothing the second time (returns None).
    """
    if amount_sats <= 0:
        raise ValueError("a credit must be positive")
    if reason == LedgerReason.TOPUP and tx.scalar(
        "SELECT EXISTS (SELECT 1 FROM account_ledger WHERE reason = :r AND reference = :ref)",
        r=reason.value,
        ref=reference,
    ):
        return None
    row = tx.one(
        "WITH moved AS (UPDATE accounts SET balance_sats = balance_sats + :amt,"
        " updated_at = now() WHERE id = :id RETURNING id, balance_sats),"
        " entry AS (INSERT INTO account_ledger (account_id, amount_sats, reason, reference)"
        " SELECT id, :amt, :r, :ref FROM moved)"
        " SELECT balance_sats FROM moved",
        id=account_id,
        amt=amount_sats,
        r=reason.value,
        ref=reference,
    )
    if row is None:
        raise LookupError(f"no account {account_id}")
    return int(row["balance_sats"])


def debit(
    tx: Db, account_id: str, amount_sats: int, *, reason: LedgerReason, reference: str
) -> int | None:
    """Take from the balance when it covers the amount; returns the new balance, or None when
    the balance is short (nothing changed)."""
    if amount_sats <= 0:
        raise ValueError("a debit must be positive")
    row = tx.one(
        "WITH moved AS (UPDATE accounts SET balance_sats = balance_sats - :amt,"
        " updated_at = now() WHERE id = :id AND balance_sats >= :amt"
        " RETURNING id, balance_sats),"
        " entry AS (INSERT INTO account_ledger (account_id, amount_sats, reason, reference)"
        " SELECT id, -(:amt)::bigint, :r, :ref FROM moved)"
        " SELECT balance_sats FROM moved",
        id=account_id,
        amt=amount_sats,
        r=reason.value,
        ref=reference,
    )
    return None if row is None else int(row["balance_sats"])


def ledger(tx: Db, account_id: str) -> list[LedgerEntry]:
    rows = tx.all(
        f"SELECT {_LEDGER_COLUMNS} FROM account_ledger WHERE account_id = :id ORDER BY id",
        id=account_id,
    )
    return [LedgerEntry(**{**row, "reason": LedgerReason(row["reason"])}) for row in rows]


def ledger_mismatches(tx: Db) -> list[str]:
    """Accounts whose balance differs from the sum of their ledger (always empty)."""
    rows = tx.all(
        "SELECT a.id::text AS id FROM accounts a LEFT JOIN account_ledger l"
        " ON l.account_id = a.id GROUP BY a.id, a.balance_sats"
        " HAVING a.balance_sats <> COALESCE(sum(l.amount_sats), 0)"
    )
    return [str(row["id"]) for row in rows]
