"""The catalog as GET /api/v1/catalog answers it: USD list prices and sats at the BTC price."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from timmy.catalog.loader import RoutePricing


class CatalogModelView(BaseModel):
    id: str
    provider: str
    upstream: str
    usd_per_mtok_input: Decimal = Field(description="List price, before PRICE_MARKUP_PCT")
    usd_per_mtok_output: Decimal = Field(description="List price, before PRICE_MARKUP_PCT")
    markup_pct: Decimal = Field(description="This model's markup (its own, or PRICE_MARKUP_PCT)")
    sats_per_mtok_input: int = Field(description="What a million input tokens are charged now")
    sats_per_mtok_output: int = Field(description="What a million output tokens are charged now")
    max_output_tokens: int


class CatalogRouteView(BaseModel):
    id: str
    method: str
    path: str
    pricing: RoutePricing
    capability: str
    sats: int | None = Field(description="Flat routes: what one call costs")
    usd: Decimal | None = Field(description="Flat routes: the same in USD at the BTC price")
    l402: bool = Field(description="Accepts Authorization: L402 and answers a 402 challenge")


class CatalogFeesView(BaseModel):
    task_fee_sats: int
    quote_fee_sats: int


class CatalogExampleView(BaseModel):
    title: str
    route: str
    request: str


class CatalogView(BaseModel):
    btc_price_usd: Decimal
    markup_pct: Decimal
    models: list[CatalogModelView]
    routes: list[CatalogRouteView]
    marketplace: CatalogFeesView
    examples: list[CatalogExampleView]
