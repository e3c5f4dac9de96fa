"""GET /api/estimate?request=… and POST /api/estimate: a cost estimate that changes nothing."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from timmy.api import HttpApi, error_doc, header, make_handler, ok_doc
from timmy.data.identities import TrustTier
from timmy.data.pool import Serve
from timmy.freetier.estimate import Estimate, estimate
from timmy.identity.service import caller

app = HttpApi()


class EstimateRequest(BaseModel):
    request: str = Field(description="The text Timmy would work on.")
    nostr_token: str | None = Field(default=None, description="Alternative to X-Nostr-Token.")


class TokenEstimate(BaseModel):
    input: int
    output: int


class FreeTierAnswer(BaseModel):
    serve: Serve
    absorb_sats: int
    charge_sats: int


class IdentityEstimate(BaseModel):
    trust_tier: TrustTier
    free_tier: FreeTierAnswer


class PoolSnapshot(BaseModel):
    balance_sats: int
    daily_budgets: dict[str, int]


class EstimateResponse(BaseModel):
    model: str
    estimated_sats: int = Field(description="Estimated work price in sats (rounded up).")
    eval_fee_sats: int
    btc_price_usd: float
    token_estimate: TokenEstimate
    trust_tier: TrustTier
    identity: IdentityEstimate | None = Field(
        description="Present when a valid nostr token is given: the free-tier dry run."
    )
    pool: PoolSnapshot


RESPONSES = {
    200: ok_doc("The estimate (nothing is stored, reserved or charged)", EstimateResponse),
    400: error_doc("empty_request, request_too_long, invalid_request or conflicting_tokens"),
    401: error_doc("invalid_token or token_expired: a nostr token was given but is not valid"),
}


def _caller(body_token: str | None) -> str | None:
    return caller(header(app, "x-nostr-token"), body_token)


def _shape(result: Estimate) -> EstimateResponse:
    identity = None
    if result.free_tier is not None:
        decision = result.free_tier
        identity = IdentityEstimate(
            trust_tier=result.trust_tier,
            free_tier=FreeTierAnswer(
                serve=decision.serve,
                absorb_sats=decision.absorb_sats,
                charge_sats=decision.charge_sats,
            ),
        )
    return EstimateResponse(
        model=result.model,
        estimated_sats=result.estimated_sats,
        eval_fee_sats=result.eval_fee_sats,
        btc_price_usd=float(result.btc_price_usd),
        token_estimate=TokenEstimate(input=result.input_tokens, output=result.output_tokens),
        trust_tier=result.trust_tier,
        identity=identity,
        pool=PoolSnapshot(
            balance_sats=result.pool.balance_sats,
            daily_budgets={tier.value: sats for tier, sats in result.pool.daily_budgets.items()},
        ),
    )


@app.get(
    "/api/estimate", summary="Estimate a request's cost", tags=["estimate"], responses=RESPONSES
)
def estimate_get(
    request: Annotated[str, Query(description="The request text")],
) -> EstimateResponse:
    return _shape(estimate(request, _caller(None)))


@app.post(
    "/api/estimate",
    summary="Estimate a long request's cost",
    tags=["estimate"],
    responses=RESPONSES,
)
def estimate_post(body: EstimateRequest) -> EstimateResponse:
    return _shape(estimate(body.request, _caller(body.nostr_token)))


handler = make_handler(app)
