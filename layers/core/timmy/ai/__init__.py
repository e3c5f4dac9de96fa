"""AI providers behind one interface: Anthropic, any OpenAI-compatible endpoint, a stub."""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr

from timmy.settings import EnvSettings, load


class AISettings(EnvSettings):
    ai_provider: Literal["stub", "anthropic", "openai"] = "stub"
    ai_model: str = ""
    anthropic_api_key: SecretStr = SecretStr("")
    anthropic_base_url: str = "https://api.anthropic.com"
    openai_api_key: SecretStr = SecretStr("")
    openai_base_url: str = ""
    ai_timeout_seconds: float = 60.0


def ai_settings() -> AISettings:
    return load(AISettings)


def provider_mode() -> str:
    return ai_settings().ai_provider
