"""Data access for L402 credentials (``l402_tokens``) and their ledger (``l402_ledger``).

Every change of a token's balance writes its ledger row in the same statement, so the ledger
of a token always sums to its balance; ``CHECK (balance_sats >= 0)`` makes an overspend
impossible whatever runs in parallel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from timmy.db.connection import Db, Row


class L402LedgerReason(StrEnum):
    FUNDED = "funded"  # its invoice was paid (reference: the payment hash)
    CHAT_HOLD = "chat_hold"  # a completion's maximum cost, held (reference: the request id)
    CHAT_RELEASE = "chat_release"  # the unused part of a completion's hold, or all of it
    HIRE_TASK_FEE = "hire_task_fee"  # posting a task (reference: the task id)
    HIRE_QUOTE_FEE = "hire_quote_fee"  # submitting a quote (reference: the quote id)
    REDEEMED = "redeemed"  # the remainder moved into an account (reference: the account id)


@dataclass(frozen=True, slots=True)
class L402Token:
    token_id: str
    payment_hash: str
    root_key: bytes
    route_id: str
    capability: str
    account_id: str | None
    amount_sats: int
    balance_sats: int
    funded_at: datetime | None
    valid_until: datetime
    created_at: datetime

    @property
    def funded(self) -> bool:
        return self.funded_at is not None


@dataclass(frozen=True, slots=True)
class L402LedgerEntry:
    id: int
    token_id: str
    amount_sats: int
    reason: L402LedgerReason
    reference: str
    created_at: datetime


_COLUMNS = (
    "token_id, payment_hash, root_key, route_id, capability, account_id::text AS account_id,"
    " amount_sats, balance_sats, funded_at, valid_until, created_at"
)


def _token(row: Row) -> L402Token:
    return L402Token(**{**row, "root_key": bytes(row["root_key"])})


def insert(
    tx: Db,
    *,
    token_id: str,
    payment_hash: str,
    root_key: bytes,
    route_id: str,
    capability: str,
    account_id: str | None,
    amount_sats: int,
    valid_until: datetime,
) -> L402Token:
    row = tx.one(
        "INSERT INTO l402_tokens (token_id, payment_hash, root_key, route_id, capability,"
        " account_id, amount_sats, valid_until) VALUES (:id, :hash, :key, :route, :capability,"
        f" CAST(:account AS uuid), :amount, :valid_until) RETURNING {_COLUMNS}",
        id=token_id,
        hash=payment_hash,
        key=root_key,
        route=route_id,
        capability=capability,
        account=account_id,
        amount=amount_sats,
        valid_until=valid_until,
    )
    assert row is not None
    return _token(row)


def get(tx: Db, token_id: str) -> L402Token | None:
    row = tx.one(f"SELECT {_COLUMNS} FROM l402_tokens WHERE token_id = :id", id=token_id)
    return None if row is None else _token(row)


def fund(tx: Db, token_id: str, amount_sats: int, *, payment_hash: str) -> int | None:
    """Credit a paid token its invoice's amount, once; the balance, None if already funded."""
    row = tx.one(
        "WITH moved AS (UPDATE l402_tokens SET balance_sats = balance_sats + :amt,"
        " funded_at = now(), updated_at = now() WHERE token_id = :id AND funded_at IS NULL"
        " RETURNING token_id, balance_sats),"
        " entry AS (INSERT INTO l402_ledger (token_id, amount_sats, reason, reference)"
        " SELECT token_id, :amt, :r, :ref FROM moved)"
        " SELECT balance_sats FROM moved",
        id=token_id,
        amt=amount_sats,
        r=L402LedgerReason.FUNDED.value,
        ref=payment_hash,
    )
    return None if row is None else int(row["balance_sats"])


def debit(
    tx: Db, token_id: str, amount_sats: int, *, reason: L402LedgerReason, reference: str
) -> int | None:
    """Take from a funded token's balance when it covers the amount; the new balance, or None
    when it is short (nothing changed)."""
    if amount_sats <= 0:
        raise ValueError("a debit must be positive")
    row = tx.one(
        "WITH moved AS (UPDATE l402_tokens SET balance_sats = balance_sats - :amt,"
        " updated_at = now() WHERE token_id = :id AND funded_at IS NOT NULL"
        " AND balance_sats >= :amt RETURNING token_id, balance_sats),"
        " entry AS (INSERT INTO l402_ledger (token_id, amount_sats, reason, reference)"
        " SELECT token_id, -(:amt)::bigint, :r, :ref FROM moved)"
        " SELECT balance_sats FROM moved",
        id=token_id,
        amt=amount_sats,
        r=reason.value,
        ref=reference,
    )
    return None if row is None else int(row["balance_sats"])


def credit(
    tx: Db, token_id: str, amount_sats: int, *, reason: L402LedgerReason, reference: str
) -> int:
    """Give sats back to a token (a released hold); the new balance."""
    if amount_sats <= 0:
        raise ValueError("a credit must be positive")
    row = tx.one(
        "WITH moved AS (UPDATE l402_tokens SET balance_sats = balance_sats + :amt,"
        " updated_at = now() WHERE token_id = :id RETURNING token_id, balance_sats),"
        " entry AS (INSERT INTO l402_ledger (token_id, amount_sats, reason, reference)"
        " SELECT token_id, :amt, :r, :ref FROM moved)"
        " SELECT balance_sats FROM moved",
        id=token_id,
        amt=amount_sats,
        r=reason.value,
        ref=reference,
    )
    if row is None:
        raise LookupError(f"no L402 token {token_id}")
    return int(row["balance_sats"])


def drain(tx: Db, token_id: str, *, reference: str) -> int:
    """Take the whole balance of a token (reason redeemed); what it held, 0 when empty."""
    row = tx.one(
        "WITH old AS (SELECT token_id, balance_sats FROM l402_tokens WHERE token_id = :id"
        " AND balance_sats > 0 FOR UPDATE),"
        " moved AS (UPDATE l402_tokens t SET balance_sats = 0, updated_at = now() FROM old"
        " WHERE t.token_id = old.token_id RETURNING t.token_id, old.balance_sats AS drained),"
        " entry AS (INSERT INTO l402_ledger (token_id, amount_sats, reason, reference)"
        " SELECT token_id, -drained, :r, :ref FROM moved)"
        " SELECT drained FROM moved",
        id=token_id,
        r=L402LedgerReason.REDEEMED.value,
        ref=reference,
    )
    return 0 if row is None else int(row["drained"])


def balance(tx: Db, token_id: str) -> int:
    value = tx.scalar("SELECT balance_sats FROM l402_tokens WHERE token_id = :id", id=token_id)
    if value is None:
        raise LookupError(f"no L402 token {token_id}")
    return int(value)


def lock(tx: Db, token_id: str) -> None:
    tx.execute("SELECT 1 FROM l402_tokens WHERE token_id = :id FOR NO KEY UPDATE", id=token_id)


def ledger(tx: Db, token_id: str) -> list[L402LedgerEntry]:
    rows = tx.all(
        "SELECT id, token_id, amount_sats, reason, reference, created_at FROM l402_ledger"
        " WHERE token_id = :id ORDER BY id",
        id=token_id,
    )
    return [L402LedgerEntry(**{**row, "reason": L402LedgerReason(row["reason"])}) for row in rows]


def ledger_mismatches(tx: Db) -> list[str]:
    """Tokens whose balance differs from the sum of their ledger (always empty)."""
    rows = tx.all(
        "SELECT t.token_id FROM l402_tokens t LEFT JOIN l402_ledger l"
        " ON l.token_id = t.token_id GROUP BY t.token_id, t.balance_sats"
        " HAVING t.balance_sats <> COALESCE(sum(l.amount_sats), 0)"
    )
    return [str(row["token_id"]) for row in rows]
