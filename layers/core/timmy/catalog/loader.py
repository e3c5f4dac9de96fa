"""Loading and validating the catalog.

The file ships inside the layer (``timmy/catalog/catalog.yaml``, a link to the repository's
``shared/catalog.yaml`` that ``sam build`` copies as a file). It is read once per container,
when pricing's settings are validated at the first invocation, so a catalog that does not
validate stops the function with a ConfigurationError before it serves anything. Nothing is
read at import time.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from timmy.pricing import ModelPrice, PriceTable

BUNDLED = Path(__file__).with_name("catalog.yaml")

_Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
_Usd = Annotated[Decimal, Field(ge=0, le=10_000, allow_inf_nan=False)]


class CatalogError(ValueError):
    """The catalog file is missing or does not validate (a ValueError, so that the settings
    validation that loads it reports a ConfigurationError)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class CatalogModel(_Strict):
    id: _Id
    provider: Literal["stub", "anthropic", "openai"]
    upstream: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    usd_per_mtok_input: _Usd
    usd_per_mtok_output: _Usd
    max_output_tokens: int = Field(ge=1, le=1_000_000)
    # This model's markup in percent on top of its list price; PRICE_MARKUP_PCT when absent.
    markup_pct: Annotated[Decimal, Field(ge=0, le=1_000, allow_inf_nan=False)] | None = None

    @property
    def price(self) -> ModelPrice:
        return ModelPrice(self.usd_per_mtok_input, self.usd_per_mtok_output)


class RoutePricing(StrEnum):
    USAGE = "usage"  # the model's price on the request's tokens
    FLAT = "flat"  # a fixed number of sats


class PricedRoute(_Strict):
    id: _Id
    method: Literal["GET", "POST", "PATCH"]
    path: Annotated[str, StringConstraints(pattern=r"^/[A-Za-z0-9/_{}.-]*$")]
    pricing: RoutePricing
    capability: _Id
    sats: int | None = Field(default=None, ge=1, le=100_000_000)
    # The route accepts Authorization: L402 and answers a 402 challenge without credentials.
    l402: bool = False

    @model_validator(mode="after")
    def _flat_has_a_price(self) -> Self:
        if (self.pricing == RoutePricing.FLAT) != (self.sats is not None):
            raise ValueError(f"route {self.id}: a flat route has sats, a usage route has none")
        return self


class MarketplaceFees(_Strict):
    # What the buyer pays to post a task and a contractor to quote (the contractor receives
    # the whole quote: there is no commission).
    task_fee_sats: int = Field(ge=1, le=1_000_000)
    quote_fee_sats: int = Field(ge=1, le=1_000_000)


class Example(_Strict):
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    route: _Id
    request: str


class Catalog(_Strict):
    version: Literal[1]
    models: tuple[CatalogModel, ...] = Field(min_length=1)
    routes: tuple[PricedRoute, ...]
    marketplace: MarketplaceFees
    examples: tuple[Example, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for kind, ids in (("model", [m.id for m in self.models]), ("route", self.route_ids)):
            duplicates = sorted({i for i in ids if ids.count(i) > 1})
            if duplicates:
                raise ValueError(f"duplicate {kind} ids: {', '.join(duplicates)}")
        fees = self.marketplace
        for route_id, fee in (
            ("hire_task", fees.task_fee_sats),
            ("hire_quote", fees.quote_fee_sats),
        ):
            route = self.route(route_id)
            if route is not None and route.sats != fee:
                raise ValueError(f"route {route_id} must cost the marketplace fee, {fee} sats")
        for example in self.examples:
            if example.route not in self.route_ids:
                raise ValueError(f"example {example.title!r} names no route of the catalog")
        return self

    @property
    def route_ids(self) -> list[str]:
        return [r.id for r in self.routes]

    def model(self, model_id: str) -> CatalogModel | None:
        return next((m for m in self.models if m.id == model_id), None)

    def route(self, route_id: str) -> PricedRoute | None:
        return next((r for r in self.routes if r.id == route_id), None)

    @property
    def price_table(self) -> PriceTable:
        return MappingProxyType({m.id: m.price for m in self.models})


def parse(text: str, *, source: str = "catalog") -> Catalog:
    """A catalog from YAML text; CatalogError naming what is wrong otherwise."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogError(f"{source} is not valid YAML: {exc}") from None
    try:
        return Catalog.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'catalog'}: {e['msg']}" for e in exc.errors()
        )
        raise CatalogError(f"{source} does not validate: {problems}") from None


@functools.cache
def load(path: str = "") -> Catalog:
    """The catalog at ``path`` (the bundled one when empty), read once per container."""
    file = Path(path) if path else BUNDLED
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"the catalog cannot be read: {exc.strerror}") from None
    return parse(text, source=file.name)


def reset() -> None:
    load.cache_clear()
