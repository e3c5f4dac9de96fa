"""Data access for the ``payouts`` aggregate. All SQL about payouts lives here.

Each state change is one conditional ``UPDATE … WHERE state = pending RETURNING``: of
everyone who tries to settle a payout (the call that paid it, a reconciler, a caller's retry)
exactly one gets the row back, and only that one moves money back to the source.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields
from datetime import datetime

from timmy.db.connection import Db, Row


class PayoutState(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Payout:
    id: str
    payment_hash: str
    bolt11: str
    source_kind: str
    source_id: str
    state: PayoutState
    amount_sats: int
    fee_reserve_sats: int
    source_debit_sats: int  # what was taken from the source when the payout was written
    fee_sats: int | None  # the routing fee the node charged (once paid)
    fee_charged_sats: int | None  # the part of it the source bore (once paid)
    created_at: datetime
    settled_at: datetime | None

    @property
    def refund_to_source_sats(self) -> int:
        """What the source gets back once the payout is settled (0 while pending)."""
        if self.state == PayoutState.FAILED:
            return self.source_debit_sats
        if self.state == PayoutState.PAID:
            assert self.fee_charged_sats is not None
            return self.source_debit_sats - self.amount_sats - self.fee_charged_sats
        return 0


_COLUMNS = ", ".join("id::text AS id" if f.name == "id" else f.name for f in fields(Payout))


# States travel as parameters named by their value (``state = :pending``).
_STATES = {state.value: state.value for state in PayoutState}


def _payout(row: Row) -> Payout:
    return Payout(**{**row, "state": PayoutState(row["state"])})


def _maybe(row: Row | None) -> Payout | None:
    return None if row is None else _payout(row)


def insert(
    tx: Db,
    *,
    payout_id: str,
    payment_hash: str,
    bolt11: str,
    source_kind: str,
    source_id: str,
    amount_sats: int,
    fee_reserve_sats: int,
    source_debit_sats: int,
) -> Payout | None:
    """Write a pending payout; None when the payment hash was used by any payout before."""
    row = tx.one(
        "INSERT INTO payouts (id, payment_hash, bolt11, source_kind, source_id, amount_sats,"
        " fee_reserve_sats, source_debit_sats)"
        " VALUES (:id, :h, :bolt11, :kind, :source, :amount, :reserve, :debit)"
        f" ON CONFLICT (payment_hash) DO NOTHING RETURNING {_COLUMNS}",
        id=payout_id,
        h=payment_hash,
        bolt11=bolt11,
        kind=source_kind,
        source=source_id,
        amount=amount_sats,
        reserve=fee_reserve_sats,
        debit=source_debit_sats,
    )
    return _maybe(row)


def hash_used(tx: Db, payment_hash: str) -> bool:
    return (
        tx.one("SELECT 1 AS used FROM payouts WHERE payment_hash = :h", h=payment_hash) is not None
    )


def get(tx: Db, payment_hash: str) -> Payout | None:
    return _maybe(tx.one(f"SELECT {_COLUMNS} FROM payouts WHERE payment_hash = :h", h=payment_hash))


def latest_live(tx: Db, source_kind: str, source_id: str) -> Payout | None:
    """The source's newest payout that is pending or paid (a failed one is history)."""
    return _maybe(
        tx.one(
            f"SELECT {_COLUMNS} FROM payouts WHERE source_kind = :kind AND source_id = :source"
            " AND state <> :failed ORDER BY created_at DESC, id DESC LIMIT 1",
            kind=source_kind,
            source=source_id,
            **_STATES,
        )
    )


def recent_for_source(tx: Db, source_kind: str, source_id: str, *, limit: int) -> list[Payout]:
    """The source's newest payouts, newest first."""
    rows = tx.all(
        f"SELECT {_COLUMNS} FROM payouts WHERE source_kind = :kind AND source_id = :source"
        " ORDER BY created_at DESC, id DESC LIMIT :limit",
        kind=source_kind,
        source=source_id,
        limit=limit,
    )
    return [_payout(row) for row in rows]


def pending_before(tx: Db, cutoff: datetime, *, limit: int) -> list[Payout]:
    """Pending payouts written before ``cutoff``, oldest first."""
    rows = tx.all(
        f"SELECT {_COLUMNS} FROM payouts WHERE state = :pending AND created_at < :cutoff"
        " ORDER BY created_at, id LIMIT :limit",
        cutoff=cutoff,
        **_STATES,
        limit=limit,
    )
    return [_payout(row) for row in rows]


def mark_paid(
    tx: Db, payment_hash: str, *, fee_sats: int, fee_charged_sats: int, preimage: str | None
) -> Payout | None:
    """Flip pending → paid. Returns the row only for the one caller that flipped it."""
    return _maybe(
        tx.one(
            "UPDATE payouts SET state = :paid, fee_sats = :fee, fee_charged_sats = :charged,"
            " preimage = :pre, settled_at = now(), updated_at = now()"
            f" WHERE payment_hash = :h AND state = :pending RETURNING {_COLUMNS}",
            **_STATES,
            h=payment_hash,
            fee=fee_sats,
            charged=fee_charged_sats,
            pre=preimage,
        )
    )


def mark_failed(tx: Db, payment_hash: str) -> Payout | None:
    """Flip pending → failed. Returns the row only for the one caller that flipped it."""
    return _maybe(
        tx.one(
            "UPDATE payouts SET state = :failed, settled_at = now(), updated_at = now()"
            f" WHERE payment_hash = :h AND state = :pending RETURNING {_COLUMNS}",
            **_STATES,
            h=payment_hash,
        )
    )
