"""The pre-flight estimate: what a request would cost and what the free tier would do.

Reads only: the free-tier answer comes from ``decide_dry_run`` and the pool snapshot from
``pool_status``; no pool, counter or identity row is created or changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from timmy import freetier, quote
from timmy.data.identities import TrustTier


@dataclass(frozen=True)
class Estimate:
    model: str
    estimated_sats: int
    eval_fee_sats: int
    btc_price_usd: Decimal
    input_tokens: int
    output_tokens: int
    trust_tier: TrustTier
    free_tier: freetier.Decision | None
    pool: freetier.PoolStatus


def estimate(request: str, pubkey: str | None) -> Estimate:
    quote.validate_request_text(request)
    priced = quote.estimate(request)
    decision = None
    tier = TrustTier.ANONYMOUS
    if pubkey is not None:
        from timmy.identity.service import tier_of

        tier = tier_of(pubkey)
        decision = freetier.decide_dry_run(pubkey, priced.sats)
    return Estimate(
        model=priced.model,
        estimated_sats=priced.sats,
        eval_fee_sats=quote.pricing_settings().eval_fee_sats,
        btc_price_usd=priced.estimate.btc_price_usd,
        input_tokens=priced.estimate.tokens.input,
        output_tokens=priced.estimate.tokens.output,
        trust_tier=tier,
        free_tier=decision,
        pool=freetier.pool_status(),
    )
