"""Free-tier settings: each trust tier's daily budget, and how the generosity pool is fed."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from timmy.data.identities import TrustTier
from timmy.settings import EnvSettings, load


class FreeTierSettings(EnvSettings):
    free_tier_budget_new: int = Field(default=0, ge=0)
    free_tier_budget_established: int = Field(default=50, ge=0)
    free_tier_budget_trusted: int = Field(default=200, ge=0)
    free_tier_budget_elite: int = Field(default=1_000, ge=0)
    free_tier_pool_initial_sats: int = Field(default=10_000, ge=0)
    free_tier_pool_credit_pct: Decimal = Field(default=Decimal(10), ge=0, le=100)

    def daily_budgets(self) -> dict[TrustTier, int]:
        return {
            TrustTier.NEW: self.free_tier_budget_new,
            TrustTier.ESTABLISHED: self.free_tier_budget_established,
            TrustTier.TRUSTED: self.free_tier_budget_trusted,
            TrustTier.ELITE: self.free_tier_budget_elite,
        }


def free_tier_settings() -> FreeTierSettings:
    return load(FreeTierSettings)
