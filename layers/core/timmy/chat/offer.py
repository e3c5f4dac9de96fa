"""What ``/v1`` offers: its models, each one's upstream name and output limit.

THE CATALOG SEAM. Until ``shared/catalog.yaml`` lands, the one model offered is the configured
provider's (``AI_MODEL``, priced by the price table through :mod:`timmy.quote`), and its output
limit is the pricing cap. At merge, :func:`offered` reads the catalog's models (provider,
upstream name, max output tokens) instead; nothing else in :mod:`timmy.chat` knows where
models come from.
"""

from __future__ import annotations

from dataclasses import dataclass

from timmy.ai.settings import ai_settings
from timmy.pricing import OUTPUT_TOKENS_CAP


@dataclass(frozen=True, slots=True)
class ModelOffer:
    id: str  # what callers send as ``model`` (and the price-table key)
    upstream: str  # the provider's own name for it
    owned_by: str  # the provider
    max_output_tokens: int


def offered() -> tuple[ModelOffer, ...]:
    """Every model ``/v1`` serves (catalog seam: the catalog's models at merge)."""
    settings = ai_settings()
    model = settings.model
    return (
        ModelOffer(
            id=model,
            upstream=model,
            owned_by=settings.ai_provider,
            max_output_tokens=max_output_tokens(model),
        ),
    )


def max_output_tokens(model: str) -> int:
    """The most output tokens a completion of ``model`` may ask for, and what one that names
    no limit reserves (catalog seam: the catalog's ``max_output_tokens`` at merge)."""
    return OUTPUT_TOKENS_CAP


def find(model: str) -> ModelOffer | None:
    return next((offer for offer in offered() if offer.id == model), None)
