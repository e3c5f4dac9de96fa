"""Data access for the ``invoices`` aggregate. All SQL about invoices lives here."""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields
from datetime import datetime

from timmy.db.connection import Db, Row
from timmy.errors import TimmyError


class InvoiceState(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    EXPIRED = "expired"


class PaymentPurpose(enum.StrEnum):
    """What an invoice pays for: each purpose has one on-paid handler (``timmy.payments``)."""

    JOB = "job"  # a job's eval or work invoice (owner: the job)
    BOOTSTRAP = "bootstrap"  # a node's invoice (owner: the bootstrap job)
    SESSION_DEPOSIT = "session_deposit"  # owner: the session
    SESSION_TOPUP = "session_topup"  # owner: the session
    ACCOUNT_TOPUP = "account_topup"  # owner: the prepaid account
    L402 = "l402"  # an L402 credential's invoice (owner: its token id)


class UnknownPaymentPurpose(TimmyError):
    """An invoice row names a purpose no code handles: paying it would change nothing, so it
    is refused before anything is flipped (a deployment or data bug, never the caller's)."""

    status = 500
    code = "internal_error"


@dataclass(frozen=True, slots=True)
class Invoice:
    payment_hash: str
    purpose: PaymentPurpose
    owner_id: str
    amount_sats: int
    payment_request: str
    state: InvoiceState
    preimage: str | None
    has_task_token: bool  # a workflow waits on it (the token itself is read only to resume)
    resumed_at: datetime | None
    expires_at: datetime
    paid_at: datetime | None
    created_at: datetime


_COLUMNS = ", ".join(
    "task_token IS NOT NULL AS has_task_token" if f.name == "has_task_token" else f.name
    for f in fields(Invoice)
)


def _purpose(raw: str) -> PaymentPurpose:
    try:
        return PaymentPurpose(raw)
    except ValueError:
        raise UnknownPaymentPurpose(f"No on-paid handler for invoice purpose {raw!r}.") from None


def _invoice(row: Row) -> Invoice:
    return Invoice(
        **{**row, "purpose": _purpose(row["purpose"]), "state": InvoiceState(row["state"])}
    )


def _maybe(row: Row | None) -> Invoice | None:
    return None if row is None else _invoice(row)


def insert(
    tx: Db,
    *,
    payment_hash: str,
    purpose: PaymentPurpose,
    owner_id: str,
    amount_sats: int,
    payment_request: str,
    expires_at: datetime,
) -> Invoice:
    row = tx.one(
        f"INSERT INTO invoices (payment_hash, purpose, owner_id, amount_sats, payment_request,"
        f" expires_at) VALUES (:h, :purpose, :owner, :amount, :pr, :exp) RETURNING {_COLUMNS}",
        h=payment_hash,
        purpose=purpose.value,
        owner=owner_id,
        amount=amount_sats,
        pr=payment_request,
        exp=expires_at,
    )
    assert row is not None
    return _invoice(row)


def get(tx: Db, payment_hash: str) -> Invoice | None:
    return _maybe(
        tx.one(f"SELECT {_COLUMNS} FROM invoices WHERE payment_hash = :h", h=payment_hash)
    )


def mark_paid(tx: Db, payment_hash: str, preimage: str | None) -> Invoice | None:
    """Flip pending → paid. Returns the invoice only for the one caller that flipped it."""
    return _maybe(
        tx.one(
            "UPDATE invoices SET state = :paid, paid_at = now(), updated_at = now(),"
            " preimage = COALESCE(:pre, preimage)"
            f" WHERE payment_hash = :h AND state = :pending RETURNING {_COLUMNS}",
            h=payment_hash,
            pre=preimage,
            paid=InvoiceState.PAID.value,
            pending=InvoiceState.PENDING.value,
        )
    )


def mark_expired(tx: Db, payment_hash: str) -> bool:
    return (
        tx.execute(
            "UPDATE invoices SET state = :expired, updated_at = now()"
            " WHERE payment_hash = :h AND state = :pending",
            h=payment_hash,
            expired=InvoiceState.EXPIRED.value,
            pending=InvoiceState.PENDING.value,
        )
        == 1
    )


def attach_task_token(tx: Db, payment_hash: str, task_token: str) -> bool:
    """Remember the latest task token (a timed-out wait hands out a new one)."""
    return (
        tx.execute(
            "UPDATE invoices SET task_token = :t, resumed_at = NULL, updated_at = now()"
            " WHERE payment_hash = :h AND state <> :expired",
            h=payment_hash,
            t=task_token,
            expired=InvoiceState.EXPIRED.value,
        )
        == 1
    )


def claim_resumption(tx: Db, payment_hash: str) -> str | None:
    """Claim the right to resume the waiting workflow: at most one caller ever gets the token."""
    row = tx.one(
        "UPDATE invoices SET resumed_at = now(), updated_at = now()"
        " WHERE payment_hash = :h AND state = :paid AND task_token IS NOT NULL"
        " AND resumed_at IS NULL RETURNING task_token",
        h=payment_hash,
        paid=InvoiceState.PAID.value,
    )
    return None if row is None else str(row["task_token"])


def release_resumption(tx: Db, payment_hash: str) -> None:
    """Give the claim back after a transient failure to resume, so a later caller retries."""
    tx.execute(
        "UPDATE invoices SET resumed_at = NULL WHERE payment_hash = :h",
        h=payment_hash,
    )


def pending_for_owner(tx: Db, purpose: PaymentPurpose, owner_id: str) -> list[Invoice]:
    """The owner's still-pending invoices of one purpose, oldest first."""
    rows = tx.all(
        f"SELECT {_COLUMNS} FROM invoices WHERE purpose = :purpose AND owner_id = :owner"
        " AND state = :pending ORDER BY created_at",
        purpose=purpose.value,
        owner=owner_id,
        pending=InvoiceState.PENDING.value,
    )
    return [_invoice(row) for row in rows]
