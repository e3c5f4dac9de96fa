"""Pricing: token heuristic, price tables, USD→sats rounding, and cost properties."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timmy import pricing
from timmy.catalog.loader import load as load_catalog
from timmy.errors import BadRequest
from timmy.pricing import (
    ModelPrice,
    PriceTableError,
    UnknownModel,
    actual_cost,
    estimate_input_tokens,
    estimate_output_tokens,
    estimate_request_cost,
    parse_price_table,
    price_table_from_config,
    refundable,
    text_tokens,
    usd_to_sats_charge,
    usd_to_sats_refund,
)

CATALOG_PRICES = load_catalog().price_table  # the bundled catalog's prices

BTC = Decimal("100000")
NO_MARKUP = Decimal(0)

usd_amounts = st.decimals(min_value=0, max_value=Decimal(1_000_000), places=12)
btc_prices = st.decimals(min_value=Decimal(1_000), max_value=Decimal(10_000_000), places=2)
token_counts = st.integers(min_value=0, max_value=5_000_000)
sats = st.integers(min_value=0, max_value=10**12)
markups = st.decimals(min_value=0, max_value=Decimal(500), places=2)
models = st.sampled_from(sorted(CATALOG_PRICES))


# --- token heuristic ----------------------------------------------------------------------


def test_text_tokens_counts_four_utf8_bytes_per_token_rounding_up() -> None:
    assert text_tokens("") == 0
    assert text_tokens("abcd") == 1
    assert text_tokens("abcde") == 2
    # 3 CJK characters are 9 UTF-8 bytes: counted heavier than 3 ASCII characters.
    assert text_tokens("漢字字") == 3
    assert text_tokens("abc") == 1


def test_input_estimate_adds_the_fixed_prompt_overhead() -> None:
    request = "x" * 400
    assert estimate_input_tokens(request) == pricing.PROMPT_OVERHEAD_TOKENS + 100
    assert estimate_input_tokens("") == pricing.PROMPT_OVERHEAD_TOKENS


def test_output_estimate_is_proportional_between_floor_and_cap() -> None:
    # Given requests of growing size
    tiny, medium, huge = "hi", "x" * 4 * 500, "x" * 4 * 100_000
    # Then the estimate is floored, proportional, then capped
    assert estimate_output_tokens(tiny) == pricing.OUTPUT_TOKENS_FLOOR
    assert estimate_output_tokens(medium) == pricing.OUTPUT_TOKENS_PER_INPUT_TOKEN * 500
    assert estimate_output_tokens(huge) == pricing.OUTPUT_TOKENS_CAP


# --- rounding -----------------------------------------------------------------------------


def test_charge_rounds_up_and_refund_rounds_down() -> None:
    # 0.015 USD at 100,000 USD/BTC is exactly 15 sats; a hair more is 15.0001 sats.
    assert usd_to_sats_charge(Decimal("0.015"), BTC) == 15
    assert usd_to_sats_refund(Decimal("0.015"), BTC) == 15
    assert usd_to_sats_charge(Decimal("0.0150001"), BTC) == 16
    assert usd_to_sats_refund(Decimal("0.0150001"), BTC) == 15


def test_tiny_non_zero_cost_is_charged_at_least_one_sat() -> None:
    assert usd_to_sats_charge(Decimal("1e-20"), BTC) == 1
    assert usd_to_sats_refund(Decimal("1e-20"), BTC) == 0
    assert usd_to_sats_charge(Decimal(0), BTC) == 0


def test_rounding_is_exact_beyond_decimal_context_precision() -> None:
    # Given an amount that is an integer number of sats plus 1e-40 (far past 28 digits)
    usd = Decimal("0.01" + "0" * 38 + "1")
    assert usd > Decimal("0.01")
    # Then the charge still sees the remainder and rounds up
    assert usd_to_sats_charge(usd, BTC) == 11
    assert usd_to_sats_refund(usd, BTC) == 10


@pytest.mark.parametrize("price", [Decimal(0), Decimal(-1), Decimal("NaN"), Decimal("Infinity")])
def test_conversion_rejects_a_non_positive_or_non_finite_btc_price(price: Decimal) -> None:
    with pytest.raises(ValueError, match="btc_price_usd"):
        usd_to_sats_charge(Decimal(1), price)


def test_conversion_rejects_negative_usd() -> None:
    with pytest.raises(ValueError, match="usd"):
        usd_to_sats_refund(Decimal("-0.01"), BTC)


@given(usd_amounts, btc_prices)
def test_charge_is_never_below_refund_and_within_one_sat(usd: Decimal, btc: Decimal) -> None:
    charge, refund = usd_to_sats_charge(usd, btc), usd_to_sats_refund(usd, btc)
    assert refund >= 0
    assert refund <= charge <= refund + 1


@given(usd_amounts, btc_prices)
def test_charge_covers_the_cost_and_refund_never_exceeds_it(usd: Decimal, btc: Decimal) -> None:
    # Sats back to USD, compared exactly: the charge pays at least the cost, the refund at most.
    cost_in_sats = usd * pricing.SATS_PER_BTC / btc
    assert usd_to_sats_charge(usd, btc) >= math.floor(cost_in_sats)
    assert Decimal(usd_to_sats_charge(usd, btc)) * btc >= usd * pricing.SATS_PER_BTC
    assert Decimal(usd_to_sats_refund(usd, btc)) * btc <= usd * pricing.SATS_PER_BTC


# --- refunds ------------------------------------------------------------------------------


def test_refundable_is_the_overpayment() -> None:
    assert refundable(100, 60) == 40
    assert refundable(100, 100) == 0
    assert refundable(100, 150) == 0


@given(sats, sats)
def test_refund_is_never_negative_and_never_exceeds_what_was_paid(paid: int, actual: int) -> None:
    refund = refundable(paid, actual)
    assert 0 <= refund <= paid
    assert refund == max(0, paid - actual)


@pytest.mark.parametrize(("paid", "actual"), [(-1, 0), (0, -1), (True, 0), (1.5, 0)])
def test_refundable_rejects_non_sat_amounts(paid: object, actual: object) -> None:
    with pytest.raises(ValueError, match="non-negative integer"):
        refundable(paid, actual)  # type: ignore[arg-type]


# --- costs --------------------------------------------------------------------------------


def test_actual_cost_prices_tokens_at_the_model_rate_with_markup() -> None:
    # Given sonnet at $3/$15 per MTok, 1,000 in + 2,000 out = 0.003 + 0.03 = 0.033 USD
    cost = actual_cost(
        1_000,
        2_000,
        "claude-sonnet-4-5",
        prices=CATALOG_PRICES,
        btc_price_usd=BTC,
        markup_pct=Decimal(10),
    )
    # Then 10 % markup gives 0.0363 USD = 36.3 sats, charged as 37
    assert cost.usd == Decimal("0.0363")
    assert cost.sats == 37
    assert cost.tokens == pricing.TokenEstimate(input=1_000, output=2_000)
    assert cost.btc_price_usd == BTC


def test_estimate_uses_the_token_heuristic() -> None:
    request = "y" * 4_000  # 1,000 tokens
    cost = estimate_request_cost(
        request, "claude-haiku-4-5", prices=CATALOG_PRICES, btc_price_usd=BTC, markup_pct=NO_MARKUP
    )
    assert cost.tokens.input == pricing.PROMPT_OVERHEAD_TOKENS + 1_000
    assert cost.tokens.output == 2_000
    expected_usd = (Decimal(cost.tokens.input) * 1 + Decimal(cost.tokens.output) * 5) / 10**6
    assert cost.usd == expected_usd
    assert cost.sats == usd_to_sats_charge(expected_usd, BTC)


def test_unknown_model_is_a_typed_bad_request() -> None:
    with pytest.raises(UnknownModel) as caught:
        estimate_request_cost(
            "hi", "gpt-9-ultra", prices=CATALOG_PRICES, btc_price_usd=BTC, markup_pct=NO_MARKUP
        )
    assert isinstance(caught.value, BadRequest)
    assert caught.value.code == "unknown_model"
    assert caught.value.status == 400
    assert "gpt-9-ultra" in caught.value.message


def test_negative_markup_is_rejected() -> None:
    with pytest.raises(ValueError, match="markup"):
        actual_cost(1, 1, "stub", prices=CATALOG_PRICES, btc_price_usd=BTC, markup_pct=Decimal(-1))


@given(models, token_counts, token_counts, token_counts, token_counts, btc_prices, markups)
def test_more_tokens_never_cost_fewer_sats(
    model: str, inp: int, out: int, more_in: int, more_out: int, btc: Decimal, markup: Decimal
) -> None:
    kwargs = {"prices": CATALOG_PRICES, "btc_price_usd": btc, "markup_pct": markup}
    smaller = actual_cost(inp, out, model, **kwargs)  # type: ignore[arg-type]
    larger = actual_cost(inp + more_in, out + more_out, model, **kwargs)  # type: ignore[arg-type]
    assert 0 <= smaller.sats <= larger.sats
    assert 0 <= smaller.usd <= larger.usd


@given(models, st.text(max_size=300), st.text(max_size=300), btc_prices, markups)
def test_a_longer_request_is_never_estimated_cheaper(
    model: str, request: str, extra: str, btc: Decimal, markup: Decimal
) -> None:
    kwargs = {"prices": CATALOG_PRICES, "btc_price_usd": btc, "markup_pct": markup}
    shorter = estimate_request_cost(request, model, **kwargs)  # type: ignore[arg-type]
    longer = estimate_request_cost(request + extra, model, **kwargs)  # type: ignore[arg-type]
    assert 0 <= shorter.sats <= longer.sats


@given(models, st.integers(min_value=1, max_value=10_000), btc_prices)
def test_any_non_zero_usage_on_a_paid_model_costs_at_least_one_sat(
    model: str, tokens: int, btc: Decimal
) -> None:
    cost = actual_cost(
        tokens, 0, model, prices=CATALOG_PRICES, btc_price_usd=btc, markup_pct=NO_MARKUP
    )
    assert cost.sats >= 1


@given(token_counts, token_counts, btc_prices, markups)
def test_markup_never_lowers_the_price(inp: int, out: int, btc: Decimal, markup: Decimal) -> None:
    plain = actual_cost(
        inp, out, "gpt-4o-mini", prices=CATALOG_PRICES, btc_price_usd=btc, markup_pct=NO_MARKUP
    )
    marked = actual_cost(
        inp, out, "gpt-4o-mini", prices=CATALOG_PRICES, btc_price_usd=btc, markup_pct=markup
    )
    assert marked.sats >= plain.sats


# --- price tables -------------------------------------------------------------------------


def test_parse_price_table_reads_numbers_and_numeric_strings_exactly() -> None:
    table = parse_price_table('{"my-model": [0.1, "2.50"], "free": [0, 0]}')
    assert table["my-model"] == ModelPrice(Decimal("0.1"), Decimal("2.50"))
    assert table["free"] == ModelPrice(Decimal(0), Decimal(0))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"m": [1]}', "two-element"),
        ('{"m": {"in": 1, "out": 2}}', "two-element"),
        ('{"m": [1, -2]}', "between 0"),
        ('{"m": [1, 99999999]}', "between 0"),
        ('{"m": [1, "cheap"]}', "not a number"),
        ('{"m": [1, true]}', "must be numbers"),
        ('{"m": [1, null]}', "must be numbers"),
        ('{"m": [NaN, 1]}', "not valid JSON"),
        ('{"m": [Infinity, 1]}', "not valid JSON"),
        ('{"m": ["Infinity", 1]}', "between 0"),
        ('{"": [1, 1]}', "model name"),
    ],
)
def test_parse_price_table_rejects_bad_input_clearly(text: str, problem: str) -> None:
    with pytest.raises(PriceTableError, match=problem):
        parse_price_table(text)


def test_config_override_extends_and_replaces_the_defaults() -> None:
    # Given an override that reprices the stub and adds a self-hosted model
    override = json.dumps({"stub": [0, 0], "llama-3-8b": ["0.05", "0.1"]})
    table = price_table_from_config(override, CATALOG_PRICES)
    # Then both are applied and the other defaults survive
    assert table["stub"] == ModelPrice(Decimal(0), Decimal(0))
    assert table["llama-3-8b"].output_usd_per_mtok == Decimal("0.1")
    assert table["claude-sonnet-4-5"] == CATALOG_PRICES["claude-sonnet-4-5"]
    assert CATALOG_PRICES["stub"] != table["stub"]


def test_config_without_override_is_the_defaults() -> None:
    assert price_table_from_config(None, CATALOG_PRICES) == CATALOG_PRICES
    assert price_table_from_config("  ", CATALOG_PRICES) == CATALOG_PRICES


def test_default_table_cannot_be_mutated() -> None:
    with pytest.raises(TypeError):
        CATALOG_PRICES["stub"] = ModelPrice(Decimal(0), Decimal(0))  # type: ignore[index]


def test_model_price_rejects_negative_or_float_prices() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        ModelPrice(Decimal(-1), Decimal(1))
    with pytest.raises(ValueError, match="finite Decimal"):
        ModelPrice(0.5, Decimal(1))  # type: ignore[arg-type]
