"""Pricing properties the job flow relies on (beyond tests/unit/test_pricing.py): usage never
runs past the estimate on the stub, the caller ends up paying exactly the actual cost, and
refunds stay between zero and what was paid."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from timmy import pricing
from timmy.ai import agent
from timmy.ai.stub import StubProvider
from timmy.jobs.charging import work_charge
from timmy.pricing import DEFAULT_PRICES, actual_cost, estimate_request_cost, refundable
from timmy.quote import Quote

btc_prices = st.decimals(min_value=Decimal(1_000), max_value=Decimal(10_000_000), places=2)
markups = st.decimals(min_value=0, max_value=Decimal(300), places=2)
models = st.sampled_from(sorted(DEFAULT_PRICES))
# Requests as callers send them: any text, including scripts that tokenize densely.
requests = st.text(min_size=1, max_size=2_000).filter(lambda s: s.strip() and "\x00" not in s)


@given(requests, btc_prices, markups)
def test_stub_work_never_uses_more_than_the_estimate_so_it_never_costs_more(
    request: str, btc: Decimal, markup: Decimal
) -> None:
    estimate = estimate_request_cost(
        request, "stub", prices=DEFAULT_PRICES, btc_price_usd=btc, markup_pct=markup
    )
    usage = agent.work(StubProvider(), request, estimate.tokens.output)
    assert usage.input_tokens <= estimate.tokens.input
    assert usage.output_tokens <= estimate.tokens.output
    real = actual_cost(
        usage.input_tokens,
        usage.output_tokens,
        "stub",
        prices=DEFAULT_PRICES,
        btc_price_usd=btc,
        markup_pct=markup,
    )
    assert 0 <= real.sats <= estimate.sats


@given(models, requests, btc_prices, markups, st.integers(0, 10_000), st.integers(0, 10_000))
def test_a_job_charges_at_least_the_estimate_and_refunds_at_most_what_was_paid(
    model: str, request: str, btc: Decimal, markup: Decimal, used_in: int, used_out: int
) -> None:
    kwargs = {"prices": DEFAULT_PRICES, "btc_price_usd": btc, "markup_pct": markup}
    estimate = estimate_request_cost(request, model, **kwargs)  # type: ignore[arg-type]
    charge = work_charge({"nostr_pubkey": None}, Quote(model=model, estimate=estimate))
    assert charge.charge_sats >= max(1, estimate.sats)
    real = actual_cost(used_in, used_out, model, **kwargs)  # type: ignore[arg-type]

    owed = refundable(charge.charge_sats, real.sats)

    assert 0 <= owed <= charge.charge_sats
    # Within the estimate the caller ends up paying exactly the actual cost
    if real.sats <= charge.charge_sats:
        assert charge.charge_sats - owed == real.sats


@given(models, st.integers(0, 100_000), st.integers(0, 100_000), btc_prices, btc_prices)
def test_a_dearer_bitcoin_never_costs_more_sats(
    model: str, used_in: int, used_out: int, btc_a: Decimal, btc_b: Decimal
) -> None:
    low, high = sorted((btc_a, btc_b))
    at_low = actual_cost(
        used_in, used_out, model, prices=DEFAULT_PRICES, btc_price_usd=low, markup_pct=Decimal(20)
    )
    at_high = actual_cost(
        used_in, used_out, model, prices=DEFAULT_PRICES, btc_price_usd=high, markup_pct=Decimal(20)
    )
    assert 0 <= at_high.sats <= at_low.sats


def test_a_model_priced_at_zero_still_gets_a_payable_one_sat_invoice() -> None:
    free = {"free": pricing.ModelPrice(Decimal(0), Decimal(0))}
    estimate = estimate_request_cost(
        "hello", "free", prices=free, btc_price_usd=Decimal(100_000), markup_pct=Decimal(0)
    )
    charge = work_charge({}, Quote(model="free", estimate=estimate))
    assert (estimate.sats, charge.charge_sats) == (0, 1)
    assert refundable(charge.charge_sats, 0) == 1
