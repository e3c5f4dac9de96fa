"""What an account caller sees (``Account`` prefix: OpenAPI merges every function's names)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from timmy.data.identities import TrustTier
from timmy.payouts.views import PayoutSummary


class AccountTopupChallenge(BaseModel):
    """The peer's 402 body for a top-up, plus ``token`` when this top-up created the account."""

    status: Literal["payment_required"] = "payment_required"
    payment_method: Literal["topup"] = "topup"
    invoice: str = Field(description="BOLT11 invoice to pay")
    payment_hash: str
    amount_sats: int
    expires_in: int = Field(description="Seconds until the invoice expires")
    expires_at: datetime
    account_id: str
    claim_url: str
    token: str | None = Field(
        default=None, description="The new account's token: shown this once, never again"
    )


class AccountClaim(BaseModel):
    token: str
    account_id: str
    balance_sats: int
    credited_sats: int = Field(description="0 when the top-up was already credited")


class AccountPendingTopup(BaseModel):
    payment_hash: str
    invoice: str
    amount_sats: int
    expires_at: datetime


class AccountView(BaseModel):
    account_id: str
    balance_sats: int
    nostr_pubkey: str | None
    trust_tier: TrustTier
    withdrawable_sats: int = Field(
        description="The largest amount a withdrawal can ask for (it also holds a fee reserve)"
    )
    pending_topups: list[AccountPendingTopup]
    payouts: list[PayoutSummary] = Field(description="The latest withdrawals, newest first")
    created_at: datetime
