"""The configured AI provider, built once per process (its HTTP client is reused)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from timmy.ai.settings import ai_settings

if TYPE_CHECKING:
    from timmy.ai.anthropic import AnthropicProvider
    from timmy.ai.base import AIProvider, ChatProvider
    from timmy.ai.openai_compat import OpenAICompatProvider
    from timmy.ai.stub import StubProvider


def provider() -> AIProvider:
    """The configured provider, built once per process (its HTTP client is reused)."""
    return _configured()


def chat_provider() -> ChatProvider:
    """The same provider, for whole conversations (``/v1/chat/completions``)."""
    return _configured()


@functools.cache
def _configured() -> AnthropicProvider | OpenAICompatProvider | StubProvider:
    settings = ai_settings()
    if settings.ai_provider == "anthropic":
        from timmy.ai.anthropic import AnthropicProvider

        return AnthropicProvider(
            api_key=settings.anthropic_api_key.get_secret_value(),
            model=settings.model,
            base_url=settings.anthropic_base_url,
            timeout_seconds=settings.ai_timeout_seconds,
        )
    if settings.ai_provider == "openai":
        from timmy.ai.openai_compat import OpenAICompatProvider

        return OpenAICompatProvider(
            model=settings.model,
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key.get_secret_value() or None,
            timeout_seconds=settings.ai_timeout_seconds,
            max_tokens_field=settings.openai_max_tokens_field,
        )
    from timmy.ai.stub import StubProvider

    return StubProvider(model=settings.model, reject_markers=settings.stub_reject_markers)


def reset() -> None:
    _configured.cache_clear()
