"""Any OpenAI-compatible chat endpoint (``POST {base_url}/chat/completions``).

Works with OpenAI itself (``base_url`` ``https://api.openai.com/v1``) and with self-hosted
servers that speak the same protocol (vLLM, llama.cpp, Ollama, LiteLLM...): the API key is
optional, and sent as ``Authorization: Bearer`` only when given. Text is
``choices[0].message.content``; usage is ``usage.prompt_tokens`` / ``usage.completion_tokens``.
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

OPENAI_BASE_URL: Final = "https://api.openai.com/v1"
_NAME: Final = "openai"


class OpenAICompatProvider:
    mode = "openai"

    def __init__(
        self,
        *,
        model: str,
        base_url: str = OPENAI_BASE_URL,
        api_key: str | None = None,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        max_tokens_field: str = "max_tokens",
        client: httpx.Client | None = None,
        retry: upstream.RetryPolicy = RETRY,
    ) -> None:
        """``max_tokens_field``: newer OpenAI models want ``max_completion_tokens``; most
        self-hosted servers only know ``max_tokens`` (the default)."""
        if not model:
            raise ValueError("a model name is required")
        if max_tokens_field not in ("max_tokens", "max_completion_tokens"):
            raise ValueError("max_tokens_field must be max_tokens or max_completion_tokens")
        self.model = model
        self._api_key = api_key or None
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._timeout = timeout_seconds
        self._max_tokens_field = max_tokens_field
        self._client = client
        self._retry = retry

    def __repr__(self) -> str:  # the key stays out of logs and tracebacks
        return f"OpenAICompatProvider(model={self.model!r}, url={self._url!r})"

    def complete(self, system: str, prompt: str, max_tokens: int) -> AIResult:
        require_max_tokens(max_tokens)
        if self._client is None:
            self._client = new_http_client()
        headers = {"content-type": "application/json"}
        if self._api_key:
            headers["authorization"] = f"Bearer {self._api_key}"
        payload = post_json(
            self._client,
            self._url,
            provider=_NAME,
            headers=headers,
            body={
                "model": self.model,
                self._max_tokens_field: max_tokens,
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": prompt},
                ],
            },
            timeout_seconds=self._timeout,
            retry=self._retry,
        )
        usage = payload.get("usage")
        if not isinstance(usage, dict):
            raise PermanentAIError("openai response has no usage")
        return AIResult(
            text=_text_of(payload.get("choices")),
            input_tokens=token_count(usage.get("prompt_tokens"), _NAME, "usage.prompt_tokens"),
            output_tokens=token_count(
                usage.get("completion_tokens"), _NAME, "usage.completion_tokens"
            ),
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
        """The conversation as it came (roles and text), never streamed upstream."""
        require_max_tokens(max_tokens)
        if self._client is None:
            self._client = new_http_client()
        headers = {"content-type": "application/json"}
        if self._api_key:
            headers["authorization"] = f"Bearer {self._api_key}"
        body: dict[str, object] = {
            "model": model,
            self._max_tokens_field: max_tokens,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": False,
        }
        if options.temperature is not None:
            body["temperature"] = options.temperature
        if options.top_p is not None:
            body["top_p"] = options.top_p
        if options.stop:
            body["stop"] = list(options.stop)
        payload = post_json(
            self._client,
            self._url,
            provider=_NAME,
            headers=headers,
            body=body,
            timeout_seconds=self._timeout,
            retry=self._retry,
        )
        usage = payload.get("usage")
        if not isinstance(usage, dict):
            raise PermanentAIError("openai response has no usage")
        choices = payload.get("choices")
        first = choices[0] if isinstance(choices, list) and choices else None
        finish = first.get("finish_reason") if isinstance(first, dict) else None
        return ChatResult(
            text=_text_of(choices),
            finish_reason=finish if isinstance(finish, str) and finish else "stop",
            input_tokens=token_count(usage.get("prompt_tokens"), _NAME, "usage.prompt_tokens"),
            output_tokens=token_count(
                usage.get("completion_tokens"), _NAME, "usage.completion_tokens"
            ),
        )


def _text_of(choices: object) -> str:
    first = choices[0] if isinstance(choices, list) and choices else None
    message = first.get("message") if isinstance(first, dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        raise PermanentAIError("openai response has no choices[0].message.content")
    return content
