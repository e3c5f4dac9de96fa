"""Anthropic Messages API provider (``POST {base_url}/v1/messages``).

Request: headers ``x-api-key`` and ``anthropic-version: 2023-06-01``; body ``model``,
``max_tokens``, ``system`` and one user message. Response: the text is the concatenation of the
``content`` blocks of type ``text``; usage is ``usage.input_tokens`` / ``usage.output_tokens``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from timmy import upstream
from timmy.ai.base import (
    DEFAULT_TIMEOUT_SECONDS,
    NO_OPTIONS,
    RETRY,
    AIResult,
    ChatMessage,
    ChatOptions,
    ChatResult,
    new_http_client,
    post_json,
    require_max_tokens,
    token_count,
)
from timmy.ai.errors import PermanentAIError

if TYPE_CHECKING:
    import httpx

ANTHROPIC_BASE_URL: Final = "https://api.anthropic.com"
ANTHROPIC_VERSION: Final = "2023-06-01"
_NAME: Final = "anthropic"
# Anthropic's stop_reason in OpenAI's finish_reason terms.
_FINISH_REASONS: Final = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "refusal": "content_filter",
}


class AnthropicProvider:
    mode = "anthropic"

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str = ANTHROPIC_BASE_URL,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        client: httpx.Client | None = None,
        retry: upstream.RetryPolicy = RETRY,
    ) -> None:
        if not api_key:
            raise ValueError("an Anthropic API key is required")
        if not model:
            raise ValueError("a model name is required")
        self.model = model
        self._api_key = api_key
        self._url = base_url.rstrip("/") + "/v1/messages"
        self._timeout = timeout_seconds
        self._client = client
        self._retry = retry

    def __repr__(self) -> str:  # the key stays out of logs and tracebacks
        return f"AnthropicProvider(model={self.model!r}, url={self._url!r})"

    def complete(self, system: str, prompt: str, max_tokens: int) -> AIResult:
        require_max_tokens(max_tokens)
        if self._client is None:
            self._client = new_http_client()
        payload = post_json(
            self._client,
            self._url,
            provider=_NAME,
            headers={
                "x-api-key": self._api_key,
                "anthropic-version": ANTHROPIC_VERSION,
                "content-type": "application/json",
            },
            body={
                "model": self.model,
                "max_tokens": max_tokens,
                "system": system,
                "messages": [{"role": "user", "content": prompt}],
            },
            timeout_seconds=self._timeout,
            retry=self._retry,
        )
        input_tokens, output_tokens = _usage_of(payload)
        return AIResult(
            text=_text_of(payload.get("content")),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            model=self.model,
        )

    def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        model: str,
        max_tokens: int,
        options: ChatOptions = NO_OPTIONS,
    ) -> ChatResult:
        """An OpenAI conversation as a Messages call, and its answer in OpenAI's terms.

        System and developer messages become ``system``; tool results are user turns;
        consecutive turns of one role are joined (Anthropic wants them alternating).
        """
        require_max_tokens(max_tokens)
        if self._client is None:
            self._client = new_http_client()
        system, turns = anthropic_messages(messages)
        body: dict[str, object] = {"model": model, "max_tokens": max_tokens, "messages": turns}
        if system:
            body["system"] = system
        if options.temperature is not None:
            # OpenAI's range is 0-2, Anthropic's 0-1.
            body["temperature"] = min(options.temperature, 1.0)
        if options.top_p is not None:
            body["top_p"] = options.top_p
        if options.stop:
            body["stop_sequences"] = list(options.stop)
        payload = post_json(
            self._client,
            self._url,
            provider=_NAME,
            headers={
                "x-api-key": self._api_key,
                "anthropic-version": ANTHROPIC_VERSION,
                "content-type": "application/json",
            },
            body=body,
            timeout_seconds=self._timeout,
            retry=self._retry,
        )
        input_tokens, output_tokens = _usage_of(payload)
        stop_reason = payload.get("stop_reason")
        return ChatResult(
            text=_text_of(payload.get("content")),
            finish_reason=_FINISH_REASONS.get(str(stop_reason), "stop"),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )


def anthropic_messages(messages: Sequence[ChatMessage]) -> tuple[str, list[dict[str, str]]]:
    """``(system, messages)`` of a Messages call for an OpenAI conversation."""
    system = "\n\n".join(m.content for m in messages if m.role in ("system", "developer"))
    turns: list[dict[str, str]] = []
    for message in messages:
        if message.role in ("system", "developer"):
            continue
        role = "assistant" if message.role == "assistant" else "user"
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += "\n\n" + message.content
        else:
            turns.append({"role": role, "content": message.content})
    if not turns:  # a system prompt alone: Anthropic needs a user turn
        return "", [{"role": "user", "content": system}]
    return system, turns


def _usage_of(payload: dict[str, object]) -> tuple[int, int]:
    usage = payload.get("usage")
    if not isinstance(usage, dict):
        raise PermanentAIError("anthropic response has no usage")
    return (
        token_count(usage.get("input_tokens"), _NAME, "usage.input_tokens"),
        token_count(usage.get("output_tokens"), _NAME, "usage.output_tokens"),
    )


def _text_of(content: object) -> str:
    if not isinstance(content, list):
        raise PermanentAIError("anthropic response has no content list")
    texts = [
        block["text"]
        for block in content
        if isinstance(block, dict)
        and block.get("type") == "text"
        and isinstance(block.get("text"), str)
    ]
    if not texts:
        raise PermanentAIError("anthropic response has no text content")
    return "".join(texts)
