"""Data access for ``account_chat_requests``: the completions an account or an L402
credential pays for (exactly one of ``account_id`` and ``l402_token_id``).

A request row and its ledger hold are written in one transaction (the caller's); settling or
failing it is guarded by its state, so only one caller (the request itself, or the reconciler
after it died) ever moves its sats back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from timmy.data.pool import Serve
from timmy.data.sessions import RequestState
from timmy.db.connection import Db, Row

_COLUMNS = (
    "r.id::text AS id, r.account_id::text AS account_id, r.l402_token_id, r.state, r.model,"
    " r.btc_price_usd, r.max_cost_sats, r.reserved_sats, r.free_tier, r.pool_reserved_sats,"
    " r.input_tokens, r.output_tokens, r.cost_sats, r.charged_sats, r.absorbed_sats, r.error_code,"
    " r.created_at, r.finished_at"
)


@dataclass(frozen=True, slots=True)
class ChatRequest:
    id: str
    account_id: str | None
    l402_token_id: str | None
    state: RequestState
    model: str
    btc_price_usd: Decimal
    max_cost_sats: int
    reserved_sats: int
    free_tier: Serve
    pool_reserved_sats: int
    input_tokens: int | None
    output_tokens: int | None
    cost_sats: int | None
    charged_sats: int | None
    absorbed_sats: int
    error_code: str | None
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, row: Row) -> ChatRequest:
        return cls(
            **{**row, "state": RequestState(row["state"]), "free_tier": Serve(row["free_tier"])}
        )


@dataclass(frozen=True, slots=True)
class HeldChatRequest:
    """A reserved request's holds, its payer, and whose identity its pool reservation counts
    against."""

    id: str
    account_id: str | None
    l402_token_id: str | None
    reserved_sats: int
    pool_reserved_sats: int
    nostr_pubkey: str | None


def insert(
    tx: Db,
    *,
    request_id: str,
    account_id: str | None,
    l402_token_id: str | None = None,
    model: str,
    btc_price_usd: Decimal,
    max_cost_sats: int,
    reserved_sats: int,
    free_tier: Serve,
    pool_reserved_sats: int,
) -> None:
    tx.execute(
        "INSERT INTO account_chat_requests (id, account_id, l402_token_id, model, btc_price_usd,"
        " max_cost_sats, reserved_sats, free_tier, pool_reserved_sats)"
        " VALUES (:id, CAST(:account AS uuid), :token, :model, :btc, :max_cost, :reserved,"
        " :free_tier, :pool)",
        id=request_id,
        account=account_id,
        token=l402_token_id,
        model=model,
        btc=btc_price_usd,
        max_cost=max_cost_sats,
        reserved=reserved_sats,
        free_tier=Serve(free_tier).value,
        pool=pool_reserved_sats,
    )


def get(tx: Db, request_id: str) -> ChatRequest | None:
    row = tx.one(f"SELECT {_COLUMNS} FROM account_chat_requests r WHERE r.id = :id", id=request_id)
    return None if row is None else ChatRequest.of(row)


def complete(
    tx: Db,
    request_id: str,
    *,
    input_tokens: int,
    output_tokens: int,
    cost_sats: int,
    charged_sats: int,
    absorbed_sats: int,
) -> ChatRequest | None:
    """Settle a reserved request. Returns it only for the one caller that settled it."""
    row = tx.one(
        "UPDATE account_chat_requests r SET state = :complete, input_tokens = :input,"
        " output_tokens = :output, cost_sats = :cost, charged_sats = :charged,"
        " absorbed_sats = :absorbed, finished_at = now()"
        f" WHERE r.id = :id AND r.state = :reserved RETURNING {_COLUMNS}",
        complete=RequestState.COMPLETE.value,
        reserved=RequestState.RESERVED.value,
        id=request_id,
        input=input_tokens,
        output=output_tokens,
        cost=cost_sats,
        charged=charged_sats,
        absorbed=absorbed_sats,
    )
    return None if row is None else ChatRequest.of(row)


def fail(tx: Db, request_id: str, *, error_code: str) -> ChatRequest | None:
    """Mark a reserved request failed. Returns it only for the one caller that did it."""
    row = tx.one(
        "UPDATE account_chat_requests r SET state = :failed, error_code = :code,"
        f" finished_at = now() WHERE r.id = :id AND r.state = :reserved RETURNING {_COLUMNS}",
        failed=RequestState.FAILED.value,
        reserved=RequestState.RESERVED.value,
        id=request_id,
        code=error_code,
    )
    return None if row is None else ChatRequest.of(row)


def abandoned(tx: Db, *, older_than_seconds: int, limit: int) -> list[HeldChatRequest]:
    """Requests still holding their maximum cost long after any Lambda running them ended."""
    rows = tx.all(
        "SELECT r.id::text AS id, r.account_id::text AS account_id, r.l402_token_id,"
        " r.reserved_sats, r.pool_reserved_sats, a.nostr_pubkey FROM account_chat_requests r"
        " LEFT JOIN accounts a ON a.id = r.account_id"
        " WHERE r.state = :reserved"
        " AND r.created_at < now() - CAST(:age AS integer) * interval '1 second'"
        " ORDER BY r.created_at LIMIT :limit",
        reserved=RequestState.RESERVED.value,
        age=older_than_seconds,
        limit=limit,
    )
    return [HeldChatRequest(**row) for row in rows]
