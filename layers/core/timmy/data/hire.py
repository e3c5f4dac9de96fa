"""Data access for the AI-for-Hire aggregate: tasks, quotes, messages, deliveries, escrows.

Every state change is one conditional ``UPDATE … WHERE status = <expected> RETURNING``: only
the one caller that made the change gets the row back, so a timer racing a buyer's click (or
twenty replayed clicks) changes the state — and moves the money — once. Every escrow move is
one function here that writes the escrow row, its ``hire_escrow_ledger`` row and the account
ledger row together, inside the caller's transaction.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from timmy.data import accounts
from timmy.data.accounts import LedgerReason
from timmy.db.connection import Db, Row


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    IN_ESCROW = "in_escrow"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    DISPUTED = "disputed"
    REFUNDED = "refunded"


class QuoteStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class EscrowReason(enum.StrEnum):
    HOLD = "hold"  # the buyer's balance into the escrow at accept
    RELEASE = "release"  # the escrow to the contractor (confirm, or the confirm window's end)
    REFUND = "refund"  # the escrow back to the buyer (a missed delivery deadline)
    SPLIT = "split"  # an operator's split of a disputed escrow (one row per side)


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    buyer_account_id: str
    title: str
    description: str
    budget_sats: int
    status: TaskStatus
    quote_count: int
    accepted_quote_id: str | None
    delivered_at: datetime | None
    confirm_deadline: datetime | None
    execution_arn: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Quote:
    id: str
    task_id: str
    contractor_account_id: str
    price_sats: int
    description: str
    delivery_hours: int
    delivery_deadline: datetime | None
    status: QuoteStatus
    message_count: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    quote_id: str
    sender_account_id: str
    body: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    task_id: str
    quote_id: str
    contractor_account_id: str
    filename: str
    notes: str
    content: bytes
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Escrow:
    quote_id: str
    task_id: str
    buyer_account_id: str
    contractor_account_id: str
    balance_sats: int


_TASK = (
    "t.id::text AS id, t.buyer_account_id::text AS buyer_account_id, t.title, t.description,"
    " t.budget_sats, t.status, t.accepted_quote_id::text AS accepted_quote_id, t.delivered_at,"
    " t.confirm_deadline, t.execution_arn, t.created_at, t.updated_at,"
    " (SELECT count(*) FROM hire_quotes q WHERE q.task_id = t.id) AS quote_count"
)
_QUOTE = (
    "q.id::text AS id, q.task_id::text AS task_id,"
    " q.contractor_account_id::text AS contractor_account_id, q.price_sats, q.description,"
    " q.delivery_hours, q.delivery_deadline, q.status, q.created_at, q.updated_at,"
    " (SELECT count(*) FROM hire_messages m WHERE m.quote_id = q.id) AS message_count"
)
_MESSAGE = (
    "id::text AS id, quote_id::text AS quote_id, sender_account_id::text AS sender_account_id,"
    " body, created_at"
)
_DELIVERY = (
    "id::text AS id, task_id::text AS task_id, quote_id::text AS quote_id,"
    " contractor_account_id::text AS contractor_account_id, filename, notes, content, created_at"
)
_ESCROW = (
    "quote_id::text AS quote_id, task_id::text AS task_id,"
    " buyer_account_id::text AS buyer_account_id,"
    " contractor_account_id::text AS contractor_account_id, balance_sats"
)


def _task(row: Row) -> Task:
    return Task(
        **{**row, "status": TaskStatus(row["status"]), "quote_count": int(row["quote_count"])}
    )


def _quote(row: Row) -> Quote:
    return Quote(
        **{**row, "status": QuoteStatus(row["status"]), "message_count": int(row["message_count"])}
    )


def _delivery(row: Row) -> Delivery:
    return Delivery(**{**row, "content": bytes(row["content"])})


# ----------------------------------------------------------------------------------- tasks


def insert_task(
    tx: Db, *, task_id: str, buyer_account_id: str, title: str, description: str, budget_sats: int
) -> Task:
    tx.execute(
        "INSERT INTO hire_tasks (id, buyer_account_id, title, description, budget_sats, status)"
        " VALUES (:id, :b, :title, :d, :budget, :s)",
        id=task_id,
        b=buyer_account_id,
        title=title,
        d=description,
        budget=budget_sats,
        s=TaskStatus.OPEN.value,
    )
    task = get_task(tx, task_id)
    assert task is not None
    return task


def get_task(tx: Db, task_id: str, *, for_update: bool = False) -> Task | None:
    if for_update:
        tx.execute("SELECT 1 FROM hire_tasks WHERE id = :id FOR UPDATE", id=task_id)
    row = tx.one(f"SELECT {_TASK} FROM hire_tasks t WHERE t.id = :id", id=task_id)
    return None if row is None else _task(row)


def list_tasks(tx: Db, status: TaskStatus | None, limit: int) -> list[Task]:
    if status is None:
        rows = tx.all(
            f"SELECT {_TASK} FROM hire_tasks t ORDER BY t.created_at DESC, t.id LIMIT :n", n=limit
        )
    else:
        rows = tx.all(
            f"SELECT {_TASK} FROM hire_tasks t WHERE t.status = :s"
            " ORDER BY t.created_at DESC, t.id LIMIT :n",
            s=status.value,
            n=limit,
        )
    return [_task(row) for row in rows]


def move_task(
    tx: Db, task_id: str, *, expected: TaskStatus, to: TaskStatus, **columns: object
) -> Task | None:
    """``expected`` → ``to`` (with the given columns set), or None when the task is not in
    ``expected`` (someone else moved it first: nothing changed)."""
    allowed = {"accepted_quote_id", "delivered_at", "confirm_deadline"}
    if not set(columns) <= allowed:
        raise ValueError(f"unknown task columns: {sorted(set(columns) - allowed)}")
    sets = "".join(f", {name} = :{name}" for name in columns)
    moved = tx.scalar(
        f"UPDATE hire_tasks SET status = :to, updated_at = now(){sets}"
        " WHERE id = :id AND status = :expected RETURNING id::text",
        id=task_id,
        to=to.value,
        expected=expected.value,
        **columns,
    )
    return None if moved is None else get_task(tx, task_id)


def park_delivery_wait(tx: Db, task_id: str, task_token: str) -> TaskStatus | None:
    """Store the workflow's waiting task on the task; returns the task's status then (None for
    no such task). The update waits for a delivery being committed, so either the delivery
    sees the token or this sees the delivery."""
    status = tx.scalar(
        "UPDATE hire_tasks SET delivery_task_token = :t WHERE id = :id RETURNING status",
        id=task_id,
        t=task_token,
    )
    return None if status is None else TaskStatus(status)


def delivery_task_token(tx: Db, task_id: str) -> str | None:
    token = tx.scalar("SELECT delivery_task_token FROM hire_tasks WHERE id = :id", id=task_id)
    return None if token is None else str(token)


def set_execution_arn(tx: Db, task_id: str, execution_arn: str) -> None:
    tx.execute(
        "UPDATE hire_tasks SET execution_arn = :arn WHERE id = :id", id=task_id, arn=execution_arn
    )


# ---------------------------------------------------------------------------------- quotes


def insert_quote(
    tx: Db,
    *,
    quote_id: str,
    task_id: str,
    contractor_account_id: str,
    price_sats: int,
    description: str,
    delivery_hours: int,
) -> Quote:
    tx.execute(
        "INSERT INTO hire_quotes (id, task_id, contractor_account_id, price_sats, description,"
        " delivery_hours, status) VALUES (:id, :t, :c, :p, :d, :h, :s)",
        id=quote_id,
        t=task_id,
        c=contractor_account_id,
        p=price_sats,
        d=description,
        h=delivery_hours,
        s=QuoteStatus.PENDING.value,
    )
    quote = get_quote(tx, quote_id)
    assert quote is not None
    return quote


def get_quote(tx: Db, quote_id: str) -> Quote | None:
    row = tx.one(f"SELECT {_QUOTE} FROM hire_quotes q WHERE q.id = :id", id=quote_id)
    return None if row is None else _quote(row)


def quotes_of(tx: Db, task_id: str) -> list[Quote]:
    rows = tx.all(
        f"SELECT {_QUOTE} FROM hire_quotes q WHERE q.task_id = :t ORDER BY q.created_at, q.id",
        t=task_id,
    )
    return [_quote(row) for row in rows]


def update_pending_quote(
    tx: Db,
    quote_id: str,
    *,
    price_sats: int | None,
    description: str | None,
    delivery_hours: int | None,
) -> Quote | None:
    """Change a pending quote; None when it is no longer pending."""
    moved = tx.scalar(
        "UPDATE hire_quotes SET price_sats = COALESCE(:p, price_sats),"
        " description = COALESCE(:d, description),"
        " delivery_hours = COALESCE(:h, delivery_hours), updated_at = now()"
        " WHERE id = :id AND status = :pending RETURNING id::text",
        id=quote_id,
        p=price_sats,
        d=description,
        h=delivery_hours,
        pending=QuoteStatus.PENDING.value,
    )
    return None if moved is None else get_quote(tx, quote_id)


def move_quote(
    tx: Db, quote_id: str, *, expected: QuoteStatus, to: QuoteStatus, price_sats: int | None = None
) -> Quote | None:
    """``expected`` → ``to``; with ``price_sats`` only while the price is still that (accept
    with ``expected_price_sats``). Sets the delivery deadline when accepted."""
    deadline = "now() + make_interval(hours => delivery_hours)"
    moved = tx.scalar(
        "UPDATE hire_quotes SET status = :to, updated_at = now(),"
        f" delivery_deadline = CASE WHEN :to = :accepted THEN {deadline}"
        " ELSE delivery_deadline END"
        " WHERE id = :id AND status = :expected"
        " AND (CAST(:price AS bigint) IS NULL OR price_sats = :price) RETURNING id::text",
        id=quote_id,
        to=to.value,
        expected=expected.value,
        accepted=QuoteStatus.ACCEPTED.value,
        price=price_sats,
    )
    return None if moved is None else get_quote(tx, quote_id)


def set_delivery_deadline_seconds(tx: Db, quote_id: str, seconds: int) -> Quote:
    """An override of the accepted quote's deadline (``HIRE_DELIVERY_WAIT_SECONDS``)."""
    tx.execute(
        "UPDATE hire_quotes SET delivery_deadline = now() + make_interval(secs => :s)"
        " WHERE id = :id",
        id=quote_id,
        s=seconds,
    )
    quote = get_quote(tx, quote_id)
    assert quote is not None
    return quote


def reject_other_pending(tx: Db, task_id: str, accepted_quote_id: str) -> int:
    return tx.execute(
        "UPDATE hire_quotes SET status = :rejected, updated_at = now()"
        " WHERE task_id = :t AND id <> :q AND status = :pending",
        t=task_id,
        q=accepted_quote_id,
        rejected=QuoteStatus.REJECTED.value,
        pending=QuoteStatus.PENDING.value,
    )


def reject_all_pending(tx: Db, task_id: str) -> int:
    return tx.execute(
        "UPDATE hire_quotes SET status = :rejected, updated_at = now()"
        " WHERE task_id = :t AND status = :pending",
        t=task_id,
        rejected=QuoteStatus.REJECTED.value,
        pending=QuoteStatus.PENDING.value,
    )


# -------------------------------------------------------------------------------- messages


def insert_message(
    tx: Db, *, message_id: str, quote_id: str, sender_account_id: str, body: str
) -> Message:
    row = tx.one(
        "INSERT INTO hire_messages (id, quote_id, sender_account_id, body)"
        f" VALUES (:id, :q, :s, :b) RETURNING {_MESSAGE}",
        id=message_id,
        q=quote_id,
        s=sender_account_id,
        b=body,
    )
    assert row is not None
    return Message(**row)


def messages_of(tx: Db, quote_id: str, limit: int) -> list[Message]:
    rows = tx.all(
        f"SELECT {_MESSAGE} FROM hire_messages WHERE quote_id = :q"
        " ORDER BY created_at, id LIMIT :n",
        q=quote_id,
        n=limit,
    )
    return [Message(**row) for row in rows]


# ------------------------------------------------------------------------------ deliveries


def insert_delivery(
    tx: Db,
    *,
    delivery_id: str,
    task_id: str,
    quote_id: str,
    contractor_account_id: str,
    filename: str,
    notes: str,
    content: bytes,
) -> Delivery:
    row = tx.one(
        "INSERT INTO hire_deliveries (id, task_id, quote_id, contractor_account_id, filename,"
        f" notes, content) VALUES (:id, :t, :q, :c, :f, :n, :content) RETURNING {_DELIVERY}",
        id=delivery_id,
        t=task_id,
        q=quote_id,
        c=contractor_account_id,
        f=filename,
        n=notes,
        content=content,
    )
    assert row is not None
    return _delivery(row)


def deliveries_of(tx: Db, task_id: str) -> list[Delivery]:
    rows = tx.all(
        f"SELECT {_DELIVERY} FROM hire_deliveries WHERE task_id = :t ORDER BY created_at, id",
        t=task_id,
    )
    return [_delivery(row) for row in rows]


# --------------------------------------------------------------------------------- escrow


def escrow_of(tx: Db, task_id: str) -> Escrow | None:
    row = tx.one(f"SELECT {_ESCROW} FROM hire_escrows WHERE task_id = :t", t=task_id)
    return None if row is None else Escrow(**row)


def hold(tx: Db, *, quote: Quote, buyer_account_id: str) -> int | None:
    """The quote's price from the buyer's balance into its escrow; None when the balance is
    short (nothing moved)."""
    left = accounts.debit(
        tx,
        buyer_account_id,
        quote.price_sats,
        reason=LedgerReason.HIRE_ESCROW_HOLD,
        reference=quote.id,
    )
    if left is None:
        return None
    tx.execute(
        "INSERT INTO hire_escrows (quote_id, task_id, buyer_account_id, contractor_account_id,"
        " balance_sats) VALUES (:q, :t, :b, :c, :amt)",
        q=quote.id,
        t=quote.task_id,
        b=buyer_account_id,
        c=quote.contractor_account_id,
        amt=quote.price_sats,
    )
    _escrow_entry(tx, quote.id, quote.price_sats, EscrowReason.HOLD, buyer_account_id)
    return left


_LEDGER_REASON = {
    EscrowReason.RELEASE: LedgerReason.HIRE_ESCROW_RELEASE,
    EscrowReason.REFUND: LedgerReason.HIRE_ESCROW_REFUND,
    EscrowReason.SPLIT: LedgerReason.HIRE_ESCROW_SPLIT,
}


def pay_out_of_escrow(
    tx: Db, quote_id: str, *, account_id: str, amount_sats: int, reason: EscrowReason
) -> int:
    """``amount_sats`` out of the escrow to ``account_id``; returns what is left in it. Raises
    LookupError when the escrow cannot cover it (callers hold the task's state, so it can)."""
    if reason == EscrowReason.HOLD or amount_sats <= 0:
        raise ValueError("a payment out of escrow is a positive release, refund or split")
    left = tx.scalar(
        "UPDATE hire_escrows SET balance_sats = balance_sats - :amt, updated_at = now()"
        " WHERE quote_id = :q AND balance_sats >= :amt RETURNING balance_sats",
        q=quote_id,
        amt=amount_sats,
    )
    if left is None:
        raise LookupError(f"escrow {quote_id} cannot pay {amount_sats} sats")
    _escrow_entry(tx, quote_id, -amount_sats, reason, account_id)
    accounts.credit(tx, account_id, amount_sats, reason=_LEDGER_REASON[reason], reference=quote_id)
    return int(left)


def _escrow_entry(
    tx: Db, quote_id: str, amount_sats: int, reason: EscrowReason, account_id: str
) -> None:
    tx.execute(
        "INSERT INTO hire_escrow_ledger (quote_id, amount_sats, reason, account_id)"
        " VALUES (:q, :amt, :r, :a)",
        q=quote_id,
        amt=amount_sats,
        r=reason.value,
        a=account_id,
    )


def overdue_task_ids(tx: Db, before: datetime, limit: int) -> list[str]:
    """Tasks a timer should have moved by ``before``: in escrow past the accepted quote's
    delivery deadline, or delivered past the confirm window (oldest first)."""
    rows = tx.all(
        "SELECT t.id::text AS id FROM hire_tasks t JOIN hire_quotes q ON q.id = t.accepted_quote_id"
        " WHERE (t.status = :in_escrow AND q.delivery_deadline < :before)"
        " OR (t.status = :delivered AND t.confirm_deadline < :before)"
        " ORDER BY t.updated_at LIMIT :n",
        in_escrow=TaskStatus.IN_ESCROW.value,
        delivered=TaskStatus.DELIVERED.value,
        before=before,
        n=limit,
    )
    return [str(row["id"]) for row in rows]


def escrow_total(tx: Db) -> int:
    return int(tx.scalar("SELECT COALESCE(sum(balance_sats), 0) FROM hire_escrows"))


def escrow_ledger_mismatches(tx: Db) -> list[str]:
    """Escrows whose balance differs from the sum of their ledger (always empty)."""
    rows = tx.all(
        "SELECT e.quote_id::text AS id FROM hire_escrows e LEFT JOIN hire_escrow_ledger l"
        " ON l.quote_id = e.quote_id GROUP BY e.quote_id, e.balance_sats"
        " HAVING e.balance_sats <> COALESCE(sum(l.amount_sats), 0)"
    )
    return [str(row["id"]) for row in rows]
