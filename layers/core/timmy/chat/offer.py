"""What ``/v1`` offers: the catalog's models of the configured provider, each with its
upstream name and output limit (``shared/catalog.yaml``). The deployment's one provider
serves them; a model of another provider is not offered (400 ``model_not_supported``)."""

from __future__ import annotations

from dataclasses import dataclass

from timmy.ai.settings import ai_settings
from timmy.catalog import catalog


@dataclass(frozen=True, slots=True)
class ModelOffer:
    id: str  # what callers send as ``model`` (and the price-table key)
    upstream: str  # the provider's own name for it
    owned_by: str  # the provider
    max_output_tokens: int


def offered() -> tuple[ModelOffer, ...]:
    """Every model ``/v1`` serves: the catalog's models of the configured provider."""
    provider = ai_settings().ai_provider
    return tuple(
        ModelOffer(
            id=model.id,
            upstream=model.upstream,
            owned_by=model.provider,
            max_output_tokens=model.max_output_tokens,
        )
        for model in catalog().models
        if model.provider == provider
    )


def find(model: str) -> ModelOffer | None:
    return next((offer for offer in offered() if offer.id == model), None)
