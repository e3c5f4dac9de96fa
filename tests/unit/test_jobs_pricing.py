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
from timmy.catalog.loader import load as load_catalog
from timmy.jobs.charging import WorkCharge, WorkSettlement, settle_work, work_charge
from timmy.pricing import actual_cost, estimate_request_cost, refundable
from timmy.quote import Quote

CATALOG_PRICES = load_catalog().price_table  # the bundled catalog's prices

btc_prices = st.decimals(min_value=Decimal(1_000), max_value=Decimal(10_000_000), places=2)
markups = st.decimals(min_value=0, max_value=Decimal(300), places=2)
models = st.sampled_from(sorted(CATALOG_PRICES))
# Requests as callers send them: any text, including scripts that tokenize densely.
requests = st.text(min_size=1, max_size=2_000).filter(lambda s: s.strip() and "\x00" not in s)


@given(requests, btc_prices, markups)
def test_stub_work_never_uses_more_than_the_estimate_so_it_never_costs_more(
    request: str, btc: Decimal, markup: Decimal
) -> None:
    estimate = estimate_request_cost(
        request, "stub", prices=CATALOG_PRICES, btc_price_usd=btc, markup_pct=markup
    )
    usage = agent.work(StubProvider(), request, estimate.tokens.output)
    assert usage.input_tokens <= estimate.tokens.input
    assert usage.output_tokens <= estimate.tokens.output
    real = actual_cost(
        usage.input_tokens,
        usage.output_tokens,
        "stub",
        prices=CATALOG_PRICES,
        btc_price_usd=btc,
        markup_pct=markup,
    )
    assert 0 <= real.sats <= estimate.sats


@given(models, requests, btc_prices, markups, st.integers(0, 10_000), st.integers(0, 10_000))
def test_a_job_charges_at_least_the_estimate_and_refunds_at_most_what_was_paid(
    model: str, request: str, btc: Decimal, markup: Decimal, used_in: int, used_out: int
) -> None:
    kwargs = {"prices": CATALOG_PRICES, "btc_price_usd": btc, "markup_pct": markup}
    estimate = estimate_request_cost(request, model, **kwargs)  # type: ignore[arg-type]
    charge = work_charge(None, Quote(model=model, estimate=estimate))
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
        used_in, used_out, model, prices=CATALOG_PRICES, btc_price_usd=low, markup_pct=Decimal(20)
    )
    at_high = actual_cost(
        used_in, used_out, model, prices=CATALOG_PRICES, btc_price_usd=high, markup_pct=Decimal(20)
    )
    assert 0 <= at_high.sats <= at_low.sats


def test_a_model_priced_at_zero_still_gets_a_payable_one_sat_invoice() -> None:
    free = {"free": pricing.ModelPrice(Decimal(0), Decimal(0))}
    estimate = estimate_request_cost(
        "hello", "free", prices=free, btc_price_usd=Decimal(100_000), markup_pct=Decimal(0)
    )
    charge = work_charge(None, Quote(model="free", estimate=estimate))
    assert (estimate.sats, charge.charge_sats) == (0, 1)
    assert refundable(charge.charge_sats, 0) == 1


@given(st.integers(0, 100_000), st.integers(0, 100_000), st.integers(0, 100_000))
def test_settling_with_a_free_tier_reservation_never_owes_back_more_than_was_paid(
    paid: int, actual: int, reserved: int
) -> None:
    split = settle_work(paid, actual, reserved)

    # The pool absorbs first, never more than the cost nor than it reserved
    assert split.absorbed_sats == min(actual, reserved)
    # The caller's refund is paid - max(0, actual - absorbed), within [0, paid]
    assert 0 <= split.refundable_sats <= paid
    assert split.refundable_sats == max(0, paid - max(0, actual - split.absorbed_sats))
    # Whatever the caller keeps paid plus what the pool absorbed covers the actual cost,
    # unless the caller had paid too little to cover their part (then they pay it all)
    kept = paid - split.refundable_sats
    assert kept + split.absorbed_sats == actual or split.refundable_sats == 0


def test_settling_splits_the_cost_as_the_seeds_partial_refund_math_says() -> None:
    # Partial: paid 7 of an 8-sat estimate, the pool reserved 1, the work really cost 2
    assert settle_work(7, 2, 1) == WorkSettlement(absorbed_sats=1, refundable_sats=6)
    # Partial, actual below the reservation: the pool absorbs it all, everything paid returns
    assert settle_work(3, 2, 5) == WorkSettlement(absorbed_sats=2, refundable_sats=3)
    # Free: nothing paid, nothing refundable; the pool absorbs the actual cost
    assert settle_work(0, 2, 8) == WorkSettlement(absorbed_sats=2, refundable_sats=0)
    # Gate: no reservation, the plain paid - actual
    assert settle_work(8, 2, 0) == WorkSettlement(absorbed_sats=0, refundable_sats=6)


def test_an_anonymous_caller_is_charged_the_full_estimate_with_no_free_tier() -> None:
    estimate = estimate_request_cost(
        "hello",
        "stub",
        prices=CATALOG_PRICES,
        btc_price_usd=Decimal(100_000),
        markup_pct=Decimal(20),
    )
    charge = work_charge(None, Quote(model="stub", estimate=estimate))
    assert charge == WorkCharge(
        estimate_sats=estimate.sats, charge_sats=max(1, estimate.sats), serve="gate", absorb_sats=0
    )
