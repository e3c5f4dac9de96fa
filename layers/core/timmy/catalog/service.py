"""The catalog priced at the current BTC price, and ``llms.txt`` generated from it and the
OpenAPI document."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from timmy import pricing, quote
from timmy.catalog.loader import RoutePricing
from timmy.catalog.settings import catalog
from timmy.catalog.views import (
    CatalogExampleView,
    CatalogFeesView,
    CatalogModelView,
    CatalogRouteView,
    CatalogView,
)

_MTOK: Final = 1_000_000
_USD_PLACES: Final = Decimal("0.000001")


def priced_catalog() -> CatalogView:
    current = catalog()
    btc = quote.oracle().price_usd()
    return CatalogView(
        btc_price_usd=btc,
        markup_pct=quote.pricing_settings().price_markup_pct,
        models=[
            CatalogModelView(
                id=m.id,
                provider=m.provider,
                upstream=m.upstream,
                usd_per_mtok_input=m.usd_per_mtok_input,
                usd_per_mtok_output=m.usd_per_mtok_output,
                markup_pct=quote.markup_pct(m.id),
                sats_per_mtok_input=quote.actual(_MTOK, 0, m.id, btc),
                sats_per_mtok_output=quote.actual(0, _MTOK, m.id, btc),
                max_output_tokens=m.max_output_tokens,
            )
            for m in current.models
        ],
        routes=[
            CatalogRouteView(
                id=r.id,
                method=r.method,
                path=r.path,
                pricing=r.pricing,
                capability=r.capability,
                sats=r.sats,
                usd=None if r.sats is None else _usd(r.sats, btc),
                l402=r.l402,
            )
            for r in current.routes
        ],
        marketplace=CatalogFeesView(**current.marketplace.model_dump()),
        examples=[CatalogExampleView(**e.model_dump()) for e in current.examples],
    )


def _usd(sats: int, btc_price_usd: Decimal) -> Decimal:
    return (Decimal(sats) * btc_price_usd / pricing.SATS_PER_BTC).quantize(_USD_PLACES)


def llms_txt(openapi: dict[str, Any], base_url: str) -> str:
    """The llms.txt convention: what Timmy is, how to pay, what it costs, every operation."""
    view = priced_catalog()
    lines = [
        "# Timmy",
        "",
        "> An AI agent API paid in bitcoin over Lightning: prepaid accounts (X-Token), an"
        " OpenAI-compatible API priced in sats, and an AI-for-Hire marketplace with escrow.",
        "",
        f"Base URL: {base_url}",
        f"OpenAPI document: rendered at {base_url}/#/api (the web app's API page)",
        "",
        "## Paying",
        "",
        "- Prepaid account: POST /api/v1/topup answers 402 with an invoice and a token; pay it,"
        " then send `X-Token: <token>` (or `Authorization: Bearer <token>`).",
        "- OpenAI clients: base_url = <Base URL>/v1, api_key = the account token.",
        "- L402 (routes marked L402 below): without credentials the route answers 402 with"
        ' `WWW-Authenticate: L402 macaroon="…", invoice="…"`; pay the invoice, then send'
        " `Authorization: L402 <macaroon>:<preimage hex>` until a fresh 402 says it is spent.",
        '- Errors are `{"error": {"code", "message"}}`; payment problems are 402.',
        "",
        f"## Models (sats per million tokens at {view.btc_price_usd} USD/BTC,"
        f" markup {view.markup_pct}%)",
        "",
    ]
    lines += [
        f"- {m.id} ({m.provider}): input {m.sats_per_mtok_input} sats, output"
        f" {m.sats_per_mtok_output} sats, at most {m.max_output_tokens} output tokens"
        for m in view.models
    ]
    lines += ["", "## Priced routes", ""]
    for r in view.routes:
        cost = f"{r.sats} sats" if r.pricing == RoutePricing.FLAT else "by token usage"
        lines.append(f"- {r.method} {r.path}: {cost}{', L402' if r.l402 else ''}")
    lines += ["", "## Operations", ""]
    for path, operations in sorted(openapi.get("paths", {}).items()):
        for method, operation in operations.items():
            summary = operation.get("summary", "") if isinstance(operation, dict) else ""
            lines.append(f"- {method.upper()} {path}: {summary}")
    return "\n".join(lines) + "\n"
