"""What every AI provider offers and shared HTTP plumbing; the errors are in ``errors``.

Error split (it decides whether a workflow step is retried):

* :class:`RetryableAIError` (503 ``ai_unavailable``): timeouts, connection failures, HTTP 408,
  429 and 5xx (Anthropic's 529 "overloaded" included). Trying again later may succeed.
* :class:`PermanentAIError` (502 ``ai_failed``): any other 4xx (bad key, bad request, unknown
  model) and a 2xx whose body is not the expected shape. Trying again will not help.

Messages name the provider, the HTTP status and the upstream error *type* only: upstream
messages can echo parts of a credential, so they are never copied.

Calls go through :mod:`timmy.upstream` with :data:`RETRY`: a completion is a POST that may
bill tokens once it arrives, so only a connection never made and a 429 are retried here; a
5xx or a lost answer is a RetryableAIError that the workflow's own Retry repeats later.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from timmy import upstream
from timmy.ai.errors import PermanentAIError, RetryableAIError

if TYPE_CHECKING:
    import httpx

DEFAULT_TIMEOUT_SECONDS: Final = 60.0
_CONNECT_TIMEOUT_SECONDS: Final = 5.0
RETRY: Final = upstream.RetryPolicy(attempts=3, base_delay=0.5, max_delay=4.0, max_retry_after=10.0)
_SAFE_ERROR_TYPE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


@dataclass(frozen=True, slots=True)
class AIResult:
    """A completion and its token usage.

    ``model`` is the model name the provider was configured with, which is the price-table key;
    upstreams may report a dated snapshot name instead, which would not be priced.
    """

    text: str
    input_tokens: int
    output_tokens: int
    model: str


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a chat completion, its content flattened to text."""

    role: str  # system, developer, user, assistant or tool
    content: str


@dataclass(frozen=True, slots=True)
class ChatOptions:
    """Sampling options passed through to the provider when the caller set them."""

    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()


NO_OPTIONS: Final = ChatOptions()


@dataclass(frozen=True, slots=True)
class ChatResult:
    """A chat completion in OpenAI's terms: the text, why it stopped, and the real usage."""

    text: str
    finish_reason: str  # stop, length or content_filter
    input_tokens: int
    output_tokens: int


# The chat input heuristic (the reserve of a completion, and the stub's usage): every message
# costs its text (timmy.pricing.text_tokens) plus its framing, and the reply its priming.
MESSAGE_OVERHEAD_TOKENS: Final = 4
REPLY_PRIMING_TOKENS: Final = 3


def chat_input_tokens(messages: Sequence[ChatMessage]) -> int:
    """Input tokens of a conversation by the documented heuristic (an estimate, never less
    than the stub counts)."""
    from timmy.pricing import text_tokens

    return REPLY_PRIMING_TOKENS + sum(
        MESSAGE_OVERHEAD_TOKENS + text_tokens(message.content) for message in messages
    )


class ChatProvider(Protocol):
    """A provider that completes a whole conversation (``POST /v1/chat/completions``)."""

    mode: str

    def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        model: str,
        max_tokens: int,
        options: ChatOptions = NO_OPTIONS,
    ) -> ChatResult:
        """One completion of ``messages`` by the upstream ``model``, at most ``max_tokens``
        out. Raises :class:`RetryableAIError` or :class:`PermanentAIError`."""
        ...


class AIProvider(Protocol):
    mode: str
    model: str

    def complete(self, system: str, prompt: str, max_tokens: int) -> AIResult:
        """One completion. Raises :class:`RetryableAIError` or :class:`PermanentAIError`."""
        ...


def require_max_tokens(max_tokens: int) -> None:
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError("max_tokens must be a positive integer")


def token_count(value: object, provider: str, field: str) -> int:
    """A usage count from a response body; anything but a non-negative int is malformed."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PermanentAIError(f"{provider} response has no valid {field}")
    return value


def new_http_client() -> httpx.Client:
    """A client for providers that were not handed one (created on first use, not import)."""
    # Each call passes its own timeout (http_timeout); this one only bounds the defaults.
    return upstream.new_client(
        timeout=DEFAULT_TIMEOUT_SECONDS,
        connect_timeout=_CONNECT_TIMEOUT_SECONDS,
        headers={"User-Agent": "timmy-ai/1"},
    )


def http_timeout(timeout_seconds: float) -> httpx.Timeout:
    import httpx

    return httpx.Timeout(timeout_seconds, connect=min(_CONNECT_TIMEOUT_SECONDS, timeout_seconds))


def post_json(
    client: httpx.Client,
    url: str,
    *,
    provider: str,
    headers: dict[str, str],
    body: dict[str, object],
    timeout_seconds: float,
    retry: upstream.RetryPolicy = RETRY,
) -> dict[str, object]:
    """POST ``body`` as JSON and return the JSON object answered, mapping every failure."""
    import httpx

    try:
        response = upstream.request(
            client,
            "POST",
            url,
            policy=retry,
            service=provider,
            json=body,
            headers=headers,
            timeout=http_timeout(timeout_seconds),
        )
    except httpx.TimeoutException:
        raise RetryableAIError(f"{provider} timed out") from None
    except httpx.UnsupportedProtocol:
        raise PermanentAIError(f"{provider} base URL is not http(s)") from None
    except httpx.TransportError as exc:
        raise RetryableAIError(f"{provider} unreachable: {type(exc).__name__}") from None
    except httpx.HTTPError as exc:  # undecodable body, redirect loop: the answer itself is bad
        raise PermanentAIError(f"{provider} answer unusable: {type(exc).__name__}") from None
    if not response.is_success:
        raise _status_error(provider, response)
    try:
        payload = response.json()
    except ValueError:
        raise PermanentAIError(f"{provider} answered with a body that is not JSON") from None
    if not isinstance(payload, dict):
        raise PermanentAIError(f"{provider} answered with JSON that is not an object")
    return payload


def _status_error(provider: str, response: httpx.Response) -> RetryableAIError | PermanentAIError:
    status = response.status_code
    detail = f"{provider} answered HTTP {status}"
    error_type = _upstream_error_type(response)
    if error_type:
        detail += f" ({error_type})"
    if status in (408, 429) or status >= 500:
        return RetryableAIError(detail)
    return PermanentAIError(detail)


def _upstream_error_type(response: httpx.Response) -> str | None:
    """The machine-readable error type, e.g. Anthropic ``error.type`` or OpenAI ``error.code``."""
    try:
        payload = response.json()
    except ValueError:
        return None
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return None
    for key in ("type", "code"):
        value = error.get(key)
        if isinstance(value, str) and _SAFE_ERROR_TYPE.match(value):
            return value
    return None
