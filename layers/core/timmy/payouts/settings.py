"""Payout settings: the routing-fee reserve and when an unanswered payout may be settled."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from timmy.settings import EnvSettings, load


class PayoutSettings(EnvSettings):
    # Held for the routing fee while a payout is pending: max(minimum, amount x percent,
    # rounded up). At least the node's own reserve (LNbits: 2 sats, 1 %), so the fee it
    # charges fits; a source that bears the fee is charged the real fee, capped at this.
    payout_fee_reserve_pct: Decimal = Field(default=Decimal("1"), ge=0, le=100)
    payout_fee_reserve_min_sats: int = Field(default=2, ge=0, le=1_000_000)
    # A pending payout the node has no record of is settled as failed only once it is older
    # than this (far longer than any pay call can still be on its way to the node).
    payout_unknown_after_seconds: int = Field(default=300, ge=30, le=86_400)
    # How many pending payouts one reconciler run asks the node about.
    payout_reconcile_batch: int = Field(default=100, ge=1, le=10_000)


def payout_settings() -> PayoutSettings:
    return load(PayoutSettings)
