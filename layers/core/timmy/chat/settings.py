"""Settings of the OpenAI-compatible API."""

from __future__ import annotations

from pydantic import Field

from timmy.sessions.settings import MIN_HOLD_TIMEOUT_SECONDS
from timmy.settings import EnvSettings, load


class ChatSettings(EnvSettings):
    # An account's completion still holding its maximum cost after this long died with its
    # Lambda (29 s timeout): the reconciler releases the hold. Same bound as session holds.
    chat_hold_timeout_seconds: int = Field(default=900, ge=MIN_HOLD_TIMEOUT_SECONDS, le=86_400)
    # The longest conversation accepted (characters of message text, all messages together).
    chat_max_input_chars: int = Field(default=400_000, ge=1)


def chat_settings() -> ChatSettings:
    return load(ChatSettings)
