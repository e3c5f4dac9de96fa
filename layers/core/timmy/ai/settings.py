"""The AI provider's settings: which provider, which model, its keys and limits."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from timmy.settings import EnvSettings, load

DEFAULT_MODELS = {"stub": "stub", "anthropic": "claude-sonnet-4-5", "openai": "gpt-4o-mini"}


class AISettings(EnvSettings):
    ai_provider: Literal["stub", "anthropic", "openai"] = "stub"
    ai_model: str = ""
    ai_timeout_seconds: float = Field(default=60.0, gt=0, le=900)
    anthropic_api_key: SecretStr = SecretStr("")
    anthropic_base_url: str = "https://api.anthropic.com"
    openai_api_key: SecretStr = SecretStr("")
    openai_base_url: str = "https://api.openai.com/v1"
    openai_max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    stub_reject_markers: tuple[str, ...] = ("[[reject]]",)

    @field_validator("stub_reject_markers", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("anthropic_base_url", "openai_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an absolute http(s):// URL")
        return value

    @model_validator(mode="after")
    def _provider_has_its_key(self) -> Self:
        # OpenAI-compatible servers (a local model, a gateway) may need no key; Anthropic does.
        if self.ai_provider == "anthropic" and not self.anthropic_api_key.get_secret_value():
            raise ValueError("AI_PROVIDER=anthropic needs ANTHROPIC_API_KEY")
        return self

    @property
    def model(self) -> str:
        return self.ai_model or DEFAULT_MODELS[self.ai_provider]

    @property
    def configured(self) -> bool:
        """Whether the provider has what it needs to be called (its key, where one is needed)."""
        if self.ai_provider == "anthropic":
            return bool(self.anthropic_api_key.get_secret_value())
        return True


def ai_settings() -> AISettings:
    return load(AISettings)


def provider_mode() -> str:
    return ai_settings().ai_provider
