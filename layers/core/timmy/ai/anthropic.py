"""Anthropic Messages API provider (``POST {base_url}/v1/messages``).

Request: headers ``x-api-key`` and ``anthropic-version: 2023-06-01``; body ``model``,
``max_tokens``, ``system`` and one user message. Response: the text is the concatenation of the
``content`` blocks of type ``text``; usage is ``usage.input_tokens`` / ``usage.output_tokens``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from timmy import upstream
from timmy.ai.base import (
    DEFAULT_TIMEOUT_SECONDS,
    RETRY,
    AIResult,
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
        usage = payload.get("usage")
        if not isinstance(usage, dict):
            raise PermanentAIError("anthropic response has no usage")
        return AIResult(
            text=_text_of(payload.get("content")),
            input_tokens=token_count(usage.get("input_tokens"), _NAME, "usage.input_tokens"),
            output_tokens=token_count(usage.get("output_tokens"), _NAME, "usage.output_tokens"),
            model=self.model,
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
