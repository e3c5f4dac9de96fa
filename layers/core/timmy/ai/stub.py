"""Deterministic AI provider for local development and tests (no network, no key).

Usage is computed from the text with the same arithmetic as pricing
(:func:`timmy.pricing.text_tokens`), so the local stack prices, charges and refunds exactly as
it would with a real model.

Markers in the request (case-insensitive) drive every path:

* a rejection marker (default ``[[reject]]``; configurable) → the evaluation rejects;
* ``[[fail:retryable]]`` / ``[[fail:permanent]]`` → every call raises
  :class:`RetryableAIError` / :class:`PermanentAIError` (so the evaluation fails);
* ``[[fail-work:retryable]]`` / ``[[fail-work:permanent]]`` → the evaluation accepts, the work
  call raises.

Anything else is accepted, and the work answer is a fixed function of the request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Final

from timmy.ai.agent import EVALUATE_SYSTEM_PROMPT
from timmy.ai.base import (
    NO_OPTIONS,
    AIResult,
    ChatMessage,
    ChatOptions,
    ChatResult,
    chat_input_tokens,
    require_max_tokens,
)
from timmy.ai.errors import PermanentAIError, RetryableAIError
from timmy.pricing import BYTES_PER_TOKEN, STUB_MODEL, text_tokens

DEFAULT_REJECT_MARKERS: Final = ("[[reject]]",)
FAIL_RETRYABLE: Final = "[[fail:retryable]]"
FAIL_PERMANENT: Final = "[[fail:permanent]]"
FAIL_WORK_RETRYABLE: Final = "[[fail-work:retryable]]"
FAIL_WORK_PERMANENT: Final = "[[fail-work:permanent]]"
_EXCERPT_CHARS: Final = 200


class StubProvider:
    mode = "stub"

    def __init__(
        self, *, model: str = STUB_MODEL, reject_markers: Sequence[str] = DEFAULT_REJECT_MARKERS
    ) -> None:
        markers = tuple(m.casefold() for m in reject_markers if m)
        if not markers:
            raise ValueError("at least one non-empty rejection marker is required")
        self.model = model
        self._reject_markers = markers

    def __repr__(self) -> str:
        return f"StubProvider(model={self.model!r})"

    def complete(self, system: str, prompt: str, max_tokens: int) -> AIResult:
        require_max_tokens(max_tokens)
        evaluating = system == EVALUATE_SYSTEM_PROMPT
        _fail_if_marked(prompt.casefold(), evaluating)
        answer = self._verdict(prompt) if evaluating else _work_answer(prompt)
        text = _truncate_to_tokens(answer, max_tokens)
        return AIResult(
            text=text,
            input_tokens=text_tokens(system) + text_tokens(prompt),
            output_tokens=text_tokens(text),
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
        """The work answer to the last user message; usage by the chat heuristic, so a
        conversation's input costs exactly what was reserved for it. The failure markers work
        in any message."""
        require_max_tokens(max_tokens)
        _fail_if_marked(" ".join(m.content for m in messages).casefold(), evaluating=False)
        last = next((m.content for m in reversed(messages) if m.role == "user"), "")
        answer = _work_answer(last)
        text = _truncate_to_tokens(answer, max_tokens)
        return ChatResult(
            text=text,
            finish_reason="stop" if text == answer else "length",
            input_tokens=chat_input_tokens(messages),
            output_tokens=text_tokens(text),
        )

    def _verdict(self, prompt: str) -> str:
        folded = prompt.casefold()
        marker = next((m for m in self._reject_markers if m in folded), None)
        if marker is None:
            verdict = {
                "accept": True,
                "reason": "The stub accepts requests without a reject marker.",
            }
        else:
            verdict = {"accept": False, "reason": f"The request contains the marker {marker}."}
        return json.dumps(verdict)


def _fail_if_marked(folded_prompt: str, evaluating: bool) -> None:
    if FAIL_RETRYABLE in folded_prompt:
        raise RetryableAIError("stub AI failure requested by marker (retryable)")
    if FAIL_PERMANENT in folded_prompt:
        raise PermanentAIError("stub AI failure requested by marker (permanent)")
    if not evaluating and FAIL_WORK_RETRYABLE in folded_prompt:
        raise RetryableAIError("stub AI work failure requested by marker (retryable)")
    if not evaluating and FAIL_WORK_PERMANENT in folded_prompt:
        raise PermanentAIError("stub AI work failure requested by marker (permanent)")


def _work_answer(request: str) -> str:
    digest = hashlib.sha256(request.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    # A lone surrogate cannot be sent back as UTF-8: show it as U+FFFD, as a real model would.
    printable = request.encode("utf-8", "replace").decode("utf-8")
    excerpt = " ".join(printable.split())[:_EXCERPT_CHARS]
    return (
        f"Stub result for a {len(request)}-character request (sha256 {digest}).\n"
        f"Request excerpt: {excerpt}"
    )


def _truncate_to_tokens(text: str, max_tokens: int) -> str:
    """Cut ``text`` so that ``text_tokens`` of it is at most ``max_tokens``, like a real model."""
    limit = max_tokens * BYTES_PER_TOKEN
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", errors="ignore")
