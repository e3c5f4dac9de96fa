"""Response models of the L402 routes."""

from __future__ import annotations

from pydantic import BaseModel, Field


class L402Redeemed(BaseModel):
    account_id: str | None = Field(
        description="Where it went; null when nothing was left and no account was named"
    )
    redeemed_sats: int = Field(description="What was left on the credential (0 when nothing)")
    balance_sats: int | None = Field(description="That account's balance after it")
    token: str | None = Field(
        default=None, description="A new account's token, shown this once (no account was named)"
    )


class L402ChallengeBody(BaseModel):
    macaroon: str = Field(description="Standard base64 of the v2 binary macaroon")
    invoice: str = Field(description="BOLT11 for the request's maximum cost (or the fee)")
    payment_hash: str
    amount_sats: int
    expires_at: str = Field(description="When the invoice expires (ISO 8601 UTC)")
