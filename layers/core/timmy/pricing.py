"""Pricing: token estimates, model prices, and the one place where USD becomes sats.

Pure functions, no I/O. USD exists only inside this module; everything that leaves it is
integer sats.

Token heuristic (documented once, used by the estimate and by the stub AI provider):

* ``text_tokens(text)`` = ceil(UTF-8 bytes / 4). For English this is the usual "~4 characters
  per token"; scripts that tokenize more densely (CJK, emoji) have more bytes per character
  and so are counted more heavily, which keeps the estimate on the safe side.
* Input estimate = ``PROMPT_OVERHEAD_TOKENS`` (the fixed work system prompt plus message
  framing) + the request's own tokens.
* Output estimate = ``OUTPUT_TOKENS_PER_INPUT_TOKEN`` x the request's own tokens, clamped to
  [``OUTPUT_TOKENS_FLOOR``, ``OUTPUT_TOKENS_CAP``]. Pass the output estimate as the work call's
  ``max_tokens`` so real output can never exceed what was priced.

Rounding (the only rounding in the project's money path):

* ``usd_to_sats_charge`` rounds UP: the caller never pays less than the cost, and any non-zero
  cost is at least 1 sat.
* ``usd_to_sats_refund`` rounds DOWN: a refund or credit never gives back more than is owed.
* Both convert exactly (``fractions.Fraction``), so no intermediate rounding can move a value
  across an integer boundary.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Final

from timmy.errors import BadRequest

SATS_PER_BTC: Final = 100_000_000
TOKENS_PER_MTOK: Final = 1_000_000

BYTES_PER_TOKEN: Final = 4
PROMPT_OVERHEAD_TOKENS: Final = 100
OUTPUT_TOKENS_PER_INPUT_TOKEN: Final = 2
OUTPUT_TOKENS_FLOOR: Final = 256
OUTPUT_TOKENS_CAP: Final = 4096

# A price above this per million tokens is a typo in configuration, not a real model.
_MAX_USD_PER_MTOK: Final = Decimal(10_000)
_MAX_MODEL_NAME_LEN: Final = 200


class UnknownModel(BadRequest):
    """The model has no entry in the price table, so no price can be quoted for it."""

    code = "unknown_model"


class PriceTableError(ValueError):
    """A price-table override is malformed.

    A ``ValueError`` (not a TimmyError) because it is a configuration fault found at start-up:
    a settings validator turns it into a clear validation error.
    """


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per million input and output tokens."""

    input_usd_per_mtok: Decimal
    output_usd_per_mtok: Decimal

    def __post_init__(self) -> None:
        for name in ("input_usd_per_mtok", "output_usd_per_mtok"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite():
                raise ValueError(f"{name} must be a finite Decimal")
            if value < 0:
                raise ValueError(f"{name} must not be negative")


PriceTable = Mapping[str, ModelPrice]

# The stub AI's model id (the catalog prices it like a small real model).
STUB_MODEL: Final = "stub"


@dataclass(frozen=True, slots=True)
class TokenEstimate:
    input: int
    output: int

    def __post_init__(self) -> None:
        _require_count(self.input, "input tokens")
        _require_count(self.output, "output tokens")


@dataclass(frozen=True, slots=True)
class CostEstimate:
    """A priced token count. ``usd`` includes the markup; ``sats`` is the charge (rounded up)."""

    tokens: TokenEstimate
    usd: Decimal
    sats: int
    btc_price_usd: Decimal


# --- tokens -------------------------------------------------------------------------------


def text_tokens(text: str) -> int:
    """Tokens in ``text`` by the documented heuristic: ceil(UTF-8 bytes / 4)."""
    # surrogatepass: a lone surrogate still counts (as 3 bytes) instead of crashing.
    return math.ceil(len(text.encode("utf-8", "surrogatepass")) / BYTES_PER_TOKEN)


def estimate_input_tokens(text: str) -> int:
    """Input tokens of a work call for request ``text``: prompt overhead + the text itself."""
    return PROMPT_OVERHEAD_TOKENS + text_tokens(text)


def estimate_output_tokens(text: str) -> int:
    """Expected output tokens: proportional to the request, within a floor and a cap."""
    proportional = OUTPUT_TOKENS_PER_INPUT_TOKEN * text_tokens(text)
    return min(OUTPUT_TOKENS_CAP, max(OUTPUT_TOKENS_FLOOR, proportional))


def estimate_tokens(text: str) -> TokenEstimate:
    return TokenEstimate(input=estimate_input_tokens(text), output=estimate_output_tokens(text))


# --- price table --------------------------------------------------------------------------


def price_for(model: str, prices: PriceTable) -> ModelPrice:
    """The price of ``model``; raises :class:`UnknownModel` when the table has no entry."""
    price = prices.get(model)
    if price is None:
        shown = model if len(model) <= 64 else model[:64] + "..."
        known = ", ".join(sorted(prices)) or "none"
        raise UnknownModel(f"unknown model {shown!r}; priced models: {known}")
    return price


def parse_price_table(json_text: str) -> PriceTable:
    """Parse a price override: a JSON object ``{"model": [input_usd, output_usd], ...}``.

    Prices are USD per million tokens, as JSON numbers or numeric strings. Raises
    :class:`PriceTableError` naming the first problem found.
    """
    try:
        raw = json.loads(
            json_text, parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant
        )
    except (json.JSONDecodeError, PriceTableError) as exc:
        raise PriceTableError(f"price table is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise PriceTableError('price table must be a JSON object {"model": [input, output]}')
    table: dict[str, ModelPrice] = {}
    for model, value in raw.items():
        table[_valid_model_name(model)] = _parse_price_pair(model, value)
    return MappingProxyType(table)


def price_table_from_config(override_json: str | None, base: PriceTable) -> PriceTable:
    """``base`` (the catalog's prices), with the entries of ``override_json`` (if any) added
    or replaced."""
    if override_json is None or not override_json.strip():
        return base
    return MappingProxyType({**base, **parse_price_table(override_json)})


def _reject_constant(name: str) -> Any:
    raise PriceTableError(f"{name} is not a price")


def _valid_model_name(model: str) -> str:
    name = model.strip()
    if not name or len(name) > _MAX_MODEL_NAME_LEN:
        raise PriceTableError(f"model name {model!r} must be 1-{_MAX_MODEL_NAME_LEN} characters")
    return name


def _parse_price_pair(model: str, value: object) -> ModelPrice:
    if not isinstance(value, list) or len(value) != 2:
        raise PriceTableError(f"price of {model!r} must be a two-element list [input, output]")
    input_usd, output_usd = (_parse_usd(model, item) for item in value)
    return ModelPrice(input_usd_per_mtok=input_usd, output_usd_per_mtok=output_usd)


def _parse_usd(model: str, item: object) -> Decimal:
    # bool is rejected explicitly: it would otherwise pass as 0 or 1 through the str path.
    if isinstance(item, bool) or not isinstance(item, Decimal | str):
        raise PriceTableError(f"price of {model!r} must be numbers, got {item!r}")
    try:
        usd = Decimal(item.strip()) if isinstance(item, str) else item
    except InvalidOperation:
        raise PriceTableError(f"price of {model!r} is not a number: {item!r}") from None
    if not usd.is_finite() or usd < 0 or usd > _MAX_USD_PER_MTOK:
        raise PriceTableError(
            f"price of {model!r} must be between 0 and {_MAX_USD_PER_MTOK} USD per million tokens"
        )
    return usd


# --- USD and sats -------------------------------------------------------------------------


def usd_to_sats_charge(usd: Decimal, btc_price_usd: Decimal) -> int:
    """Sats to charge for ``usd``: rounded UP, so a tiny non-zero cost is at least 1 sat."""
    return math.ceil(_exact_sats(usd, btc_price_usd))


def usd_to_sats_refund(usd: Decimal, btc_price_usd: Decimal) -> int:
    """Sats to refund or credit for ``usd``: rounded DOWN, never more than is owed."""
    return math.floor(_exact_sats(usd, btc_price_usd))


def refundable(paid_sats: int, actual_charge_sats: int) -> int:
    """What is owed back after paying ``paid_sats`` for work that cost ``actual_charge_sats``.

    ``max(0, paid - actual)``: never negative, never more than was paid.
    """
    _require_count(paid_sats, "paid_sats")
    _require_count(actual_charge_sats, "actual_charge_sats")
    return max(0, paid_sats - actual_charge_sats)


def _exact_sats(usd: Decimal, btc_price_usd: Decimal) -> Fraction:
    if not isinstance(usd, Decimal) or not usd.is_finite() or usd < 0:
        raise ValueError("usd must be a finite, non-negative Decimal")
    _require_btc_price(btc_price_usd)
    return Fraction(usd) * SATS_PER_BTC / Fraction(btc_price_usd)


# --- costs --------------------------------------------------------------------------------


def usd_cost(tokens: TokenEstimate, price: ModelPrice, markup_pct: Decimal) -> Decimal:
    """USD for ``tokens`` at ``price``, plus ``markup_pct`` percent. Exact (no rounding)."""
    _require_markup(markup_pct)
    base = Fraction(tokens.input) * Fraction(price.input_usd_per_mtok) + Fraction(
        tokens.output
    ) * Fraction(price.output_usd_per_mtok)
    total = base / TOKENS_PER_MTOK * (1 + Fraction(markup_pct) / 100)
    # Every input is a terminating decimal and the divisors are powers of ten, so the quotient
    # terminates too and converts to Decimal without loss.
    return _fraction_to_decimal(total)


def estimate_request_cost(
    request: str,
    model: str,
    *,
    prices: PriceTable,
    btc_price_usd: Decimal,
    markup_pct: Decimal,
) -> CostEstimate:
    """Price a request before running it. Raises :class:`UnknownModel`."""
    return _price(estimate_tokens(request), model, prices, btc_price_usd, markup_pct)


def actual_cost(
    input_tokens: int,
    output_tokens: int,
    model: str,
    *,
    prices: PriceTable,
    btc_price_usd: Decimal,
    markup_pct: Decimal,
) -> CostEstimate:
    """Price the real usage reported by the AI provider. Raises :class:`UnknownModel`."""
    tokens = TokenEstimate(input=input_tokens, output=output_tokens)
    return _price(tokens, model, prices, btc_price_usd, markup_pct)


def _price(
    tokens: TokenEstimate,
    model: str,
    prices: PriceTable,
    btc_price_usd: Decimal,
    markup_pct: Decimal,
) -> CostEstimate:
    price = price_for(model, prices)
    usd = usd_cost(tokens, price, markup_pct)
    return CostEstimate(
        tokens=tokens,
        usd=usd,
        sats=usd_to_sats_charge(usd, btc_price_usd),
        btc_price_usd=btc_price_usd,
    )


# --- validation helpers -------------------------------------------------------------------


def _fraction_to_decimal(value: Fraction) -> Decimal:
    """Exact Decimal of a terminating fraction (denominator 2^a * 5^b)."""
    denominator = value.denominator
    exponent = 0
    while denominator % 10 == 0:
        denominator //= 10
        exponent += 1
    twos = fives = 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    if denominator != 1:
        raise ValueError("value is not a terminating decimal")
    exponent += max(twos, fives)
    scaled = value.numerator * 10**exponent // value.denominator
    # Built from a string: exact at any length, unlike arithmetic bound to the context precision.
    return Decimal(f"{scaled}E-{exponent}")


def _require_count(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer")


def _require_btc_price(btc_price_usd: Decimal) -> None:
    if (
        not isinstance(btc_price_usd, Decimal)
        or not btc_price_usd.is_finite()
        or btc_price_usd <= 0
    ):
        raise ValueError("btc_price_usd must be a finite, positive Decimal")


def _require_markup(markup_pct: Decimal) -> None:
    if not isinstance(markup_pct, Decimal) or not markup_pct.is_finite() or markup_pct < 0:
        raise ValueError("markup_pct must be a finite, non-negative Decimal")
