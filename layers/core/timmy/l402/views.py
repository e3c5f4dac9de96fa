"""Response models of the L402 routes."""

from __future__ import annotations

from pydantic import BaseModel, Field

from timmy.api import ErrorBody


class L402Redeemed(BaseModel):
    account_id: str
    redeemed_sats: int = Field(description="What was left on the credential (0 when nothing)")
    balance_sats: int = Field(description="The account's balance after it")
    token: str | None = Field(
        default=None, description="A new account's token, shown this once (no account was named)"
    )


class L402ChallengeBody(BaseModel):
    macaroon: str = Field(description="Standard base64 of the v2 binary macaroon")
    invoice: str = Field(description="BOLT11 for the request's maximum cost (or the fee)")
    payment_hash: str
    amount_sats: int
    expires_at: str = Field(description="When the invoice expires (ISO 8601 UTC)")


class L402ChallengeEnvelope(BaseModel):
    """A 402: the error, and, when payment by L402 is offered, the challenge (also in the
    ``WWW-Authenticate`` header); the marketplace adds a new account's ``token``."""

    error: ErrorBody
    l402: L402ChallengeBody | None = None
    token: str | None = Field(default=None, description="Marketplace: a new account's token")
    account_id: str | None = Field(default=None, description="Marketplace: that account")
    topup_url: str | None = Field(default=None, description="Marketplace: where to top it up")
