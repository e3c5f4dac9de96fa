"""The answer of every payout endpoint (named with a ``Payout`` prefix for the OpenAPI merge)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from timmy.data.payouts import Payout, PayoutState


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


class PayoutSummary(BaseModel):
    """One payout as a balance's history shows it."""

    status: PayoutState
    payment_hash: str
    amount_sats: int
    fee_sats: int = Field(
        description="Charged to the balance: the real fee once paid, the reserve while pending"
    )
    created_at: datetime
    settled_at: datetime | None

    @classmethod
    def of(cls, payout: Payout) -> PayoutSummary:
        return cls(
            status=payout.state,
            payment_hash=payout.payment_hash,
            amount_sats=payout.amount_sats,
            fee_sats=fee_charged(payout),
            created_at=payout.created_at,
            settled_at=payout.settled_at,
        )


def fee_charged(payout: Payout) -> int:
    """What the payout's fee costs its source now: the real fee once paid, the reserve held
    while pending, nothing once failed."""
    if payout.state == PayoutState.PAID:
        return payout.fee_charged_sats or 0
    if payout.state == PayoutState.PENDING:
        return payout.source_debit_sats - payout.amount_sats
    return 0
