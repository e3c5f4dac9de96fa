"""What a session caller sees: the response shapes of every session endpoint.

Named with a ``Session`` prefix because the OpenAPI document merges every function's
components into one namespace.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from timmy.data.identities import TrustTier
from timmy.data.invoices import Invoice
from timmy.data.sessions import SessionState


class SessionInvoice(BaseModel):
    payment_request: str = Field(description="BOLT11 invoice to pay")
    payment_hash: str
    amount_sats: int
    expires_at: datetime

    @classmethod
    def of(cls, invoice: Invoice) -> SessionInvoice:
        return cls.model_validate(invoice, from_attributes=True)


class SessionCreated(BaseModel):
    session_id: str
    state: Literal[SessionState.AWAITING_PAYMENT] = SessionState.AWAITING_PAYMENT
    invoice: SessionInvoice = Field(description="The deposit invoice")
    trust_tier: TrustTier


class SessionView(BaseModel):
    session_id: str
    state: SessionState = Field(
        description=(
            "awaiting_payment until the deposit is paid; active; paused while the balance is"
            " below min_request_sats (top up to resume; a request the free tier pays for"
            " wholly still runs, a partly free one if the balance covers the caller's part);"
            " expired when the deposit invoice expired unpaid, the session's lifetime ended, or"
            " it was idle too long"
        )
    )
    balance_sats: int = Field(description="Spendable balance (running requests already held)")
    withdrawable_sats: int = Field(
        description=(
            "The largest invoice POST /api/sessions/{id}/withdraw can pay from the balance:"
            " the balance less the routing-fee reserve that amount needs (also once expired)"
        )
    )
    absorbed_sats: int = Field(
        description="What the free tier has paid, in all, for this session's completed requests"
    )
    deposit_sats: int
    min_request_sats: int = Field(description="The least a request costs")
    invoice: SessionInvoice | None = Field(
        description="The deposit invoice while the session awaits payment, else null"
    )
    pending_topup: SessionInvoice | None = Field(
        description="The unpaid, unexpired top-up invoice, if any"
    )
    macaroon: str | None = Field(
        description=(
            "The session's bearer credential for POST /api/sessions/{id}/request and /withdraw,"
            " delivered in every response once the deposit is paid (null before payment and"
            " after expiry; keep it: after expiry it still withdraws the balance)"
        )
    )
    trust_tier: TrustTier
    expires_at: datetime | None = Field(
        description="When the session expires (the deposit invoice's expiry while unpaid)"
    )
    created_at: datetime


class SessionTokens(BaseModel):
    input: int
    output: int


class SessionRequestResult(BaseModel):
    request_id: str
    result: str
    cost_sats: int = Field(
        description=(
            "What the work cost: real token usage priced at the quoted BTC price (rounded up),"
            " at least min_request_sats and never more than the estimate (held from the"
            " balance and the free tier's pool before the work ran)"
        )
    )
    charged_sats: int = Field(
        description="What was debited from the balance: cost_sats - absorbed_sats"
    )
    absorbed_sats: int = Field(
        description=(
            "The part of the cost the free tier's generosity pool paid (the caller's identity"
            " must be bound to the session; 0 for anonymous sessions)"
        )
    )
    free_tier: bool = Field(description="Whether the free tier paid any of this request")
    balance_sats: int = Field(description="The balance after this request")
    tokens: SessionTokens
    trust_tier: TrustTier


class SessionTopup(BaseModel):
    session_id: str
    invoice: SessionInvoice = Field(description="The top-up invoice")
    trust_tier: TrustTier


class SessionConflictError(BaseModel):
    code: str = Field(description="topup_pending, deposit_pending or session_expired")
    message: str


class SessionTopupConflict(BaseModel):
    """A 409 of the top-up endpoint: the error envelope, plus the pending invoice if any."""

    error: SessionConflictError
    invoice: SessionInvoice | None = Field(
        default=None, description="The pending top-up invoice (topup_pending only)"
    )
