"""Data access for the ``invoices`` aggregate. All SQL about invoices lives here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from timmy.db.connection import Db, Row

_COLUMNS = (
    "payment_hash, purpose, owner_id, amount_sats, payment_request, state, preimage,"
    " task_token IS NOT NULL AS has_task_token, resumed_at, expires_at, paid_at, created_at"
)


def insert(
    tx: Db,
    *,
    payment_hash: str,
    purpose: str,
    owner_id: str,
    amount_sats: int,
    payment_request: str,
    expires_at: datetime,
) -> Row:
    row = tx.one(
        f"INSERT INTO invoices (payment_hash, purpose, owner_id, amount_sats, payment_request,"
        f" expires_at) VALUES (:h, :purpose, :owner, :amount, :pr, :exp) RETURNING {_COLUMNS}",
        h=payment_hash,
        purpose=purpose,
        owner=owner_id,
        amount=amount_sats,
        pr=payment_request,
        exp=expires_at,
    )
    assert row is not None
    return row


def get(tx: Db, payment_hash: str) -> Row | None:
    return tx.one(f"SELECT {_COLUMNS} FROM invoices WHERE payment_hash = :h", h=payment_hash)


def latest_for_owner(tx: Db, owner_id: str, purpose: str) -> Row | None:
    return tx.one(
        f"SELECT {_COLUMNS} FROM invoices WHERE owner_id = :o AND purpose = :p"
        " ORDER BY created_at DESC LIMIT 1",
        o=owner_id,
        p=purpose,
    )


def mark_paid(tx: Db, payment_hash: str, preimage: str | None) -> Row | None:
    """Flip pending → paid. Returns the row only for the one caller that flipped it."""
    return tx.one(
        "UPDATE invoices SET state = 'paid', paid_at = now(), updated_at = now(),"
        " preimage = COALESCE(:pre, preimage)"
        f" WHERE payment_hash = :h AND state = 'pending' RETURNING {_COLUMNS}",
        h=payment_hash,
        pre=preimage,
    )


def mark_expired(tx: Db, payment_hash: str) -> bool:
    return (
        tx.execute(
            "UPDATE invoices SET state = 'expired', updated_at = now()"
            " WHERE payment_hash = :h AND state = 'pending'",
            h=payment_hash,
        )
        == 1
    )


def attach_task_token(tx: Db, payment_hash: str, task_token: str) -> bool:
    """Remember the latest task token (a timed-out wait hands out a new one)."""
    return (
        tx.execute(
            "UPDATE invoices SET task_token = :t, resumed_at = NULL, updated_at = now()"
            " WHERE payment_hash = :h AND state <> 'expired'",
            h=payment_hash,
            t=task_token,
        )
        == 1
    )


def claim_resumption(tx: Db, payment_hash: str) -> str | None:
    """Claim the right to resume the waiting workflow: at most one caller ever gets the token."""
    row = tx.one(
        "UPDATE invoices SET resumed_at = now(), updated_at = now()"
        " WHERE payment_hash = :h AND state = 'paid' AND task_token IS NOT NULL"
        " AND resumed_at IS NULL RETURNING task_token",
        h=payment_hash,
    )
    return None if row is None else str(row["task_token"])


def release_resumption(tx: Db, payment_hash: str) -> None:
    """Give the claim back after a transient failure to resume, so a later caller retries."""
    tx.execute(
        "UPDATE invoices SET resumed_at = NULL WHERE payment_hash = :h",
        h=payment_hash,
    )


def public_view(row: Row) -> dict[str, Any]:
    """The fields a caller may see about an invoice."""
    return {
        "payment_request": row["payment_request"],
        "payment_hash": row["payment_hash"],
        "amount_sats": int(row["amount_sats"]),
        "expires_at": row["expires_at"],
    }
