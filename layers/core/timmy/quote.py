"""Pricing wired to configuration: what a request is estimated to cost, and what it did cost.

The arithmetic (and every rounding rule) lives in :mod:`timmy.pricing`; this module only
supplies the configured price table, markup, model and BTC price.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal

from pydantic import Field, field_validator

from timmy import pricing
from timmy.ai.settings import ai_settings
from timmy.btc_price import MAX_SANE_BTC_USD, MIN_SANE_BTC_USD, BtcPriceOracle
from timmy.catalog import catalog
from timmy.catalog import loader as catalog_loader
from timmy.errors import BadRequest
from timmy.settings import EnvSettings, load


class PricingSettings(EnvSettings):
    eval_fee_sats: int = Field(default=10, ge=1)
    price_markup_pct: Decimal = Field(default=Decimal(20), ge=0)
    model_prices_json: str = ""
    max_request_chars: int = Field(default=20_000, ge=1)
    # A fixed price makes the local stack independent of any network; unset in AWS.
    btc_price_fixed_usd: Decimal | None = Field(
        default=None, ge=MIN_SANE_BTC_USD, le=MAX_SANE_BTC_USD
    )
    btc_price_fallback_usd: Decimal = Field(
        default=Decimal(100_000), ge=MIN_SANE_BTC_USD, le=MAX_SANE_BTC_USD
    )
    btc_price_cache_seconds: float = Field(default=60.0, ge=0)
    btc_price_timeout_seconds: float = Field(default=2.0, gt=0, le=10)
    btc_price_failure_backoff_seconds: float = Field(default=10.0, ge=0)

    @field_validator("model_prices_json")
    @classmethod
    def _price_table(cls, value: str) -> str:
        if value.strip():
            pricing.parse_price_table(value)  # raises PriceTableError (a ValueError)
        return value


def pricing_settings() -> PricingSettings:
    return load(PricingSettings)


@functools.cache
def _prices() -> pricing.PriceTable:
    override = pricing_settings().model_prices_json or None
    return pricing.price_table_from_config(override, catalog().price_table)


def markup_pct(model: str) -> Decimal:
    """The markup on ``model``: the catalog's own for it, else ``PRICE_MARKUP_PCT``."""
    listed = catalog().model(model)
    if listed is not None and listed.markup_pct is not None:
        return listed.markup_pct
    return pricing_settings().price_markup_pct


@functools.cache
def oracle() -> BtcPriceOracle:
    """One oracle per process, so its cache lasts across warm invocations."""
    from timmy.btc_price import default_feeds

    settings = pricing_settings()
    return BtcPriceOracle(
        default_feeds(),
        fallback_price_usd=settings.btc_price_fallback_usd,
        fixed_price_usd=settings.btc_price_fixed_usd,
        cache_seconds=settings.btc_price_cache_seconds,
        timeout_seconds=settings.btc_price_timeout_seconds,
        failure_backoff_seconds=settings.btc_price_failure_backoff_seconds,
    )


def reset() -> None:
    _prices.cache_clear()
    oracle.cache_clear()
    catalog_loader.reset()


class InvalidRequestText(BadRequest):
    code = "invalid_request_text"


def validate_request_text(text: str) -> str:
    """The request a caller wants worked on: non-blank and within the configured length."""
    stripped = text.strip()
    if not stripped:
        raise InvalidRequestText("request must not be empty.", code="empty_request")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequestText(
            "request must be valid Unicode text.", code="invalid_request_text"
        ) from None
    if "\x00" in text:
        # PostgreSQL text cannot store NUL: without this check storing the request is a 500.
        raise InvalidRequestText(
            "request must not contain NUL characters.", code="invalid_request_text"
        )
    limit = pricing_settings().max_request_chars
    if len(text) > limit:
        raise InvalidRequestText(
            f"request is {len(text)} characters; the limit is {limit}.", code="request_too_long"
        )
    return text


@dataclass(frozen=True)
class Quote:
    model: str
    estimate: pricing.CostEstimate

    @property
    def sats(self) -> int:
        return self.estimate.sats


def estimate(request: str) -> Quote:
    """The estimated charge for working on ``request`` with the configured model."""
    model = ai_settings().model
    cost = pricing.estimate_request_cost(
        request,
        model,
        prices=_prices(),
        btc_price_usd=oracle().price_usd(),
        markup_pct=markup_pct(model),
    )
    return Quote(model=model, estimate=cost)


def actual(input_tokens: int, output_tokens: int, model: str, btc_price_usd: Decimal) -> int:
    """The charge for real usage, at the BTC price the caller was quoted (rounded up)."""
    return pricing.actual_cost(
        input_tokens,
        output_tokens,
        model,
        prices=_prices(),
        btc_price_usd=btc_price_usd,
        markup_pct=markup_pct(model),
    ).sats
