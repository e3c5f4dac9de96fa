"""The answer of every payout endpoint (named with a ``Payout`` prefix for the OpenAPI merge)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from timmy.data.payouts import PayoutState


class PayoutAnswer(BaseModel):
    status: PayoutState = Field(
        description=(
            "paid: settled. pending: the node's answer is not known yet; a scheduled reconciler"
            " asks it and settles the payout (paid: the unused fee reserve comes back; failed:"
            " everything comes back). failed: definitely not paid; everything was credited"
            " back"
        )
    )
    payment_hash: str
    amount_sats: int = Field(description="What the invoice asks for: what the payee receives")
    fee_sats: int = Field(
        description=(
            "The routing fee charged to the balance: the real fee once paid (at most the"
            " reserve), the reserve held while pending, 0 when failed"
        )
    )
    balance_sats: int = Field(description="The balance after the payout (and any credit back)")
