"""Data access for the ``sessions`` aggregate and its ``session_requests``.

Every balance change is one conditional statement: a reservation only succeeds while the
balance covers it (and the ``CHECK (balance_sats >= 0)`` backs that up), a settlement or a
release only happens once per request (guarded by the request's state).

Lock order, in every transaction that touches more than one of them: the session row, then
the caller's ``nostr_identities`` row, then the generosity pool (the order the free tier's
reservation statement takes the last two in).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from timmy.data.pool import Serve
from timmy.db.connection import Db, Row


class SessionState(StrEnum):
    """A session's state, derived from its deadlines, payments and balance."""

    # Never stored: see migration 0004.

    AWAITING_PAYMENT = "awaiting_payment"
    ACTIVE = "active"
    PAUSED = "paused"
    EXPIRED = "expired"


class RequestState(StrEnum):
    """A session request's stored state (``session_requests.state``)."""

    RESERVED = "reserved"  # its estimate is held while the AI works
    COMPLETE = "complete"  # settled: charged_sats debited, the rest returned
    FAILED = "failed"  # everything returned


@dataclass(frozen=True, slots=True)
class Session:
    """A session row with its deadlines derived as of the database clock (``checked_at``)."""

    id: str
    nostr_pubkey: str | None
    deposit_sats: int
    deposit_payment_hash: str
    pending_topup_hash: str | None
    balance_sats: int
    absorbed_sats: int
    paid_at: datetime | None
    lifetime_ends_at: datetime | None
    last_activity_at: datetime | None
    expires_at: datetime | None  # the earlier of the lifetime's end and the idle deadline
    expired: bool  # paid, and past one of its deadlines
    created_at: datetime
    checked_at: datetime  # the database's now() when the row was read

    @property
    def paid(self) -> bool:
        return self.paid_at is not None


@dataclass(frozen=True, slots=True)
class SessionRequest:
    id: str
    session_id: str
    state: RequestState
    model: str
    btc_price_usd: Decimal
    estimated_input_tokens: int
    estimated_output_tokens: int
    estimate_sats: int
    reserved_sats: int
    input_tokens: int | None
    output_tokens: int | None
    cost_sats: int | None
    charged_sats: int | None
    absorbed_sats: int
    free_tier: Serve
    pool_reserved_sats: int
    error_code: str | None
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, row: Row) -> SessionRequest:
        return cls(
            **{**row, "state": RequestState(row["state"]), "free_tier": Serve(row["free_tier"])}
        )


@dataclass(frozen=True, slots=True)
class HeldRequest:
    """A reserved request's holds, and whose identity its pool reservation counts against."""

    id: str
    session_id: str
    reserved_sats: int
    pool_reserved_sats: int
    nostr_pubkey: str | None


# A paid session is alive while now() is before both deadlines; :idle is in seconds.
_IDLE_DEADLINE = "s.last_activity_at + :idle * interval '1 second'"
_ALIVE = f"(now() < s.lifetime_ends_at AND now() < {_IDLE_DEADLINE})"

_COLUMNS = (
    "s.id::text AS id, s.nostr_pubkey, s.deposit_sats, s.deposit_payment_hash,"
    " s.pending_topup_hash, s.balance_sats, s.absorbed_sats, s.paid_at, s.lifetime_ends_at,"
    " s.last_activity_at,"
    f" LEAST(s.lifetime_ends_at, {_IDLE_DEADLINE}) AS expires_at,"
    f" (s.paid_at IS NOT NULL AND NOT {_ALIVE}) AS expired,"
    " s.created_at, now() AS checked_at"
)

_REQUEST_COLUMNS = (
    "id::text AS id, session_id::text AS session_id, state, model, btc_price_usd,"
    " estimated_input_tokens, estimated_output_tokens, estimate_sats, reserved_sats,"
    " input_tokens, output_tokens, cost_sats, charged_sats, absorbed_sats, free_tier,"
    " pool_reserved_sats, error_code, created_at, finished_at"
)


def insert(
    tx: Db,
    *,
    session_id: str,
    deposit_sats: int,
    deposit_payment_hash: str,
    nostr_pubkey: str | None,
) -> None:
    tx.execute(
        "INSERT INTO sessions (id, nostr_pubkey, deposit_sats, deposit_payment_hash)"
        " VALUES (:id, :pubkey, :deposit, :hash)",
        id=session_id,
        pubkey=nostr_pubkey,
        deposit=deposit_sats,
        hash=deposit_payment_hash,
    )


def get(tx: Db, session_id: str, *, idle_seconds: int, for_update: bool = False) -> Session | None:
    """The session with its derived ``expires_at`` and ``expired`` (as of the database clock)."""
    lock = " FOR UPDATE OF s" if for_update else ""
    row = tx.one(
        f"SELECT {_COLUMNS} FROM sessions s WHERE s.id = :id{lock}",
        id=session_id,
        idle=idle_seconds,
    )
    return None if row is None else Session(**row)


def credit_deposit(tx: Db, session_id: str, *, amount_sats: int, lifetime_seconds: int) -> bool:
    """The deposit was paid: credit it and start the session's clocks. Once per session."""
    return (
        tx.execute(
            "UPDATE sessions SET balance_sats = balance_sats + :amount, paid_at = now(),"
            " lifetime_ends_at = now() + :lifetime * interval '1 second',"
            " last_activity_at = now(), updated_at = now()"
            " WHERE id = :id AND paid_at IS NULL",
            id=session_id,
            amount=amount_sats,
            lifetime=lifetime_seconds,
        )
        == 1
    )


def credit_topup(
    tx: Db, session_id: str, *, payment_hash: str, amount_sats: int, idle_seconds: int
) -> bool:
    """A top-up was paid: credit it and clear it as the pending one.

    Paying counts as activity for a live session; an expired session is not revived (its
    balance is credited all the same: the money was received).
    """
    return (
        tx.execute(
            "UPDATE sessions s SET balance_sats = s.balance_sats + :amount,"
            " pending_topup_hash = CASE WHEN s.pending_topup_hash = :hash THEN NULL"
            " ELSE s.pending_topup_hash END,"
            f" last_activity_at = CASE WHEN {_ALIVE} THEN now() ELSE s.last_activity_at END,"
            " updated_at = now()"
            " WHERE s.id = :id AND s.paid_at IS NOT NULL",
            id=session_id,
            hash=payment_hash,
            amount=amount_sats,
            idle=idle_seconds,
        )
        == 1
    )


def set_pending_topup(tx: Db, session_id: str, payment_hash: str) -> None:
    tx.execute(
        "UPDATE sessions SET pending_topup_hash = :hash, updated_at = now() WHERE id = :id",
        id=session_id,
        hash=payment_hash,
    )


def reserve(tx: Db, session_id: str, *, amount_sats: int, idle_seconds: int) -> int | None:
    """Take ``amount_sats`` from a paid, live session's balance if it covers them.

    Returns the balance left, or None when nothing was taken (unpaid, expired or too poor).
    Concurrent reservations serialize on the row; each sees the balance the previous left.
    """
    row = tx.one(
        "UPDATE sessions s SET balance_sats = s.balance_sats - :amount,"
        " last_activity_at = now(), updated_at = now()"
        f" WHERE s.id = :id AND s.paid_at IS NOT NULL AND {_ALIVE}"
        " AND s.balance_sats >= :amount RETURNING s.balance_sats",
        id=session_id,
        amount=amount_sats,
        idle=idle_seconds,
    )
    return None if row is None else int(row["balance_sats"])


def give_back(tx: Db, session_id: str, *, amount_sats: int, absorbed_sats: int = 0) -> int:
    """Return part of a reservation to the balance (and add what the free tier paid for the
    settled request to the session's total); the balance after it."""
    row = tx.one(
        "UPDATE sessions SET balance_sats = balance_sats + :amount,"
        " absorbed_sats = absorbed_sats + :absorbed, updated_at = now()"
        " WHERE id = :id RETURNING balance_sats",
        id=session_id,
        amount=amount_sats,
        absorbed=absorbed_sats,
    )
    assert row is not None
    return int(row["balance_sats"])


def debit_for_payout(tx: Db, session_id: str, *, amount_sats: int) -> int | None:
    """Take ``amount_sats`` from a paid session's balance for a payout, alive or expired.

    Returns the balance left, or None when the balance does not cover it (nothing taken).
    Concurrent debits serialize on the row; the CHECK (balance_sats >= 0) backs it up.
    """
    row = tx.one(
        "UPDATE sessions SET balance_sats = balance_sats - :amount, updated_at = now()"
        " WHERE id = :id AND paid_at IS NOT NULL AND balance_sats >= :amount"
        " RETURNING balance_sats",
        id=session_id,
        amount=amount_sats,
    )
    return None if row is None else int(row["balance_sats"])


def balance(tx: Db, session_id: str) -> int:
    return int(tx.scalar("SELECT balance_sats FROM sessions WHERE id = :id", id=session_id))


def lock_identity(tx: Db, pubkey: str) -> None:
    """Lock the caller's identity row before the transaction touches the generosity pool.

    The free tier's reservation statement locks the identity, then the pool. Taking the
    identity first here, before any free-tier call in the same transaction, keeps that one
    order (identity, then pool) whatever order those calls' own statements use, so a
    settlement racing a reservation of the same caller waits instead of deadlocking.
    """
    tx.execute("SELECT 1 FROM nostr_identities WHERE pubkey = :pk FOR NO KEY UPDATE", pk=pubkey)


# --- session_requests ----------------------------------------------------------------------


def insert_request(
    tx: Db,
    *,
    request_id: str,
    session_id: str,
    model: str,
    btc_price_usd: Decimal,
    estimated_input_tokens: int,
    estimated_output_tokens: int,
    estimate_sats: int,
    reserved_sats: int,
    free_tier: Serve = Serve.GATE,
    pool_reserved_sats: int = 0,
) -> None:
    tx.execute(
        "INSERT INTO session_requests (id, session_id, model, btc_price_usd,"
        " estimated_input_tokens, estimated_output_tokens, estimate_sats, reserved_sats,"
        " free_tier, pool_reserved_sats)"
        " VALUES (:id, :sid, :model, :btc, :est_in, :est_out, :estimate, :reserved,"
        " :free_tier, :pool_reserved)",
        id=request_id,
        sid=session_id,
        model=model,
        btc=btc_price_usd,
        est_in=estimated_input_tokens,
        est_out=estimated_output_tokens,
        estimate=estimate_sats,
        reserved=reserved_sats,
        free_tier=Serve(free_tier).value,
        pool_reserved=pool_reserved_sats,
    )


def complete_request(
    tx: Db,
    request_id: str,
    *,
    input_tokens: int,
    output_tokens: int,
    cost_sats: int,
    charged_sats: int,
    absorbed_sats: int,
) -> SessionRequest | None:
    """Settle a reserved request. Returns it only for the one caller that settled it."""
    row = tx.one(
        "UPDATE session_requests SET state = :complete, input_tokens = :input,"
        " output_tokens = :output, cost_sats = :cost, charged_sats = :charged,"
        " absorbed_sats = :absorbed, finished_at = now()"
        f" WHERE id = :id AND state = :reserved RETURNING {_REQUEST_COLUMNS}",
        complete=RequestState.COMPLETE.value,
        reserved=RequestState.RESERVED.value,
        id=request_id,
        input=input_tokens,
        output=output_tokens,
        cost=cost_sats,
        charged=charged_sats,
        absorbed=absorbed_sats,
    )
    return None if row is None else SessionRequest.of(row)


def fail_request(tx: Db, request_id: str, *, error_code: str) -> SessionRequest | None:
    """Mark a reserved request failed. Returns it only for the one caller that did it."""
    row = tx.one(
        "UPDATE session_requests SET state = :failed, error_code = :code, finished_at = now()"
        f" WHERE id = :id AND state = :reserved RETURNING {_REQUEST_COLUMNS}",
        failed=RequestState.FAILED.value,
        reserved=RequestState.RESERVED.value,
        id=request_id,
        code=error_code,
    )
    return None if row is None else SessionRequest.of(row)


def abandoned_requests(tx: Db, *, older_than_seconds: int, limit: int) -> list[HeldRequest]:
    """Requests still holding their estimate long after any Lambda running them has ended."""
    rows = tx.all(
        "SELECT r.id::text AS id, r.session_id::text AS session_id, r.reserved_sats,"
        " r.pool_reserved_sats, s.nostr_pubkey FROM session_requests r"
        " JOIN sessions s ON s.id = r.session_id"
        " WHERE r.state = :reserved"
        " AND r.created_at < now() - CAST(:age AS integer) * interval '1 second'"
        " ORDER BY r.created_at LIMIT :limit",
        reserved=RequestState.RESERVED.value,
        age=older_than_seconds,
        limit=limit,
    )
    return [HeldRequest(**row) for row in rows]
