"""The providers' chat calls (``/v1/chat/completions``) against their real wire shapes,
faked with httpx.MockTransport: what is sent, and the answer in OpenAI's terms."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from timmy import upstream
from timmy.ai.anthropic import AnthropicProvider, anthropic_messages
from timmy.ai.base import ChatMessage, ChatOptions, chat_input_tokens
from timmy.ai.errors import PermanentAIError, RetryableAIError
from timmy.ai.openai_compat import OpenAICompatProvider
from timmy.ai.stub import StubProvider

NO_RETRY = upstream.RetryPolicy(attempts=1)
CONVERSATION = (
    ChatMessage("system", "Be brief."),
    ChatMessage("user", "Hi"),
    ChatMessage("assistant", "Hello!"),
    ChatMessage("user", "Name a colour."),
)


def client(answer: httpx.Response, seen: list[httpx.Request]) -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer

    return httpx.Client(transport=httpx.MockTransport(handle))


OPENAI_ANSWER: dict[str, Any] = {
    "id": "chatcmpl-abc",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Blue.", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 25, "completion_tokens": 2, "total_tokens": 27},
    "system_fingerprint": "fp_1",
}

ANTHROPIC_ANSWER: dict[str, Any] = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-4-5-20251001",
    "content": [{"type": "text", "text": "Blue."}],
    "stop_reason": "max_tokens",
    "stop_sequence": None,
    "usage": {"input_tokens": 21, "output_tokens": 2},
}


def test_openai_compatible_chat_sends_the_conversation_and_reads_usage() -> None:
    seen: list[httpx.Request] = []
    provider = OpenAICompatProvider(
        model="gpt-4o-mini",
        base_url="https://llm.example/v1",
        api_key="sk-test",
        max_tokens_field="max_completion_tokens",
        client=client(httpx.Response(200, json=OPENAI_ANSWER), seen),
        retry=NO_RETRY,
    )
    result = provider.chat(
        CONVERSATION,
        model="gpt-4o-mini",
        max_tokens=64,
        options=ChatOptions(temperature=0.5, stop=("\n",)),
    )
    assert (result.text, result.finish_reason) == ("Blue.", "stop")
    assert (result.input_tokens, result.output_tokens) == (25, 2)
    [request] = seen
    assert str(request.url) == "https://llm.example/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    body = json.loads(request.content)
    assert body == {
        "model": "gpt-4o-mini",
        "max_completion_tokens": 64,
        "messages": [{"role": m.role, "content": m.content} for m in CONVERSATION],
        "stream": False,
        "temperature": 0.5,
        "stop": ["\n"],
    }


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (httpx.Response(503, json={"error": {"type": "server_error"}}), RetryableAIError),
        (httpx.Response(401, json={"error": {"code": "invalid_api_key"}}), PermanentAIError),
        (httpx.Response(200, json={"choices": []}), PermanentAIError),
    ],
)
def test_openai_compatible_chat_failures_are_classified(
    answer: httpx.Response, error: type[Exception]
) -> None:
    provider = OpenAICompatProvider(model="m", client=client(answer, []), retry=NO_RETRY)
    with pytest.raises(error):
        provider.chat(CONVERSATION, model="m", max_tokens=8)


def test_anthropic_chat_is_translated_both_ways() -> None:
    seen: list[httpx.Request] = []
    provider = AnthropicProvider(
        api_key="sk-ant",
        model="claude-haiku-4-5",
        client=client(httpx.Response(200, json=ANTHROPIC_ANSWER), seen),
        retry=NO_RETRY,
    )
    result = provider.chat(
        (*CONVERSATION, ChatMessage("developer", "Answer in one word.")),
        model="claude-haiku-4-5",
        max_tokens=2,
        options=ChatOptions(temperature=1.5, top_p=0.9, stop=("END",)),
    )
    # stop_reason max_tokens is OpenAI's "length"
    assert (result.text, result.finish_reason) == ("Blue.", "length")
    assert (result.input_tokens, result.output_tokens) == (21, 2)
    [request] = seen
    assert str(request.url) == "https://api.anthropic.com/v1/messages"
    assert request.headers["x-api-key"] == "sk-ant"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert json.loads(request.content) == {
        "model": "claude-haiku-4-5",
        "max_tokens": 2,
        "system": "Be brief.\n\nAnswer in one word.",
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Name a colour."},
        ],
        "temperature": 1.0,  # Anthropic's range ends at 1
        "top_p": 0.9,
        "stop_sequences": ["END"],
    }


def test_anthropic_turns_alternate_and_a_lone_system_prompt_becomes_the_user_turn() -> None:
    system, turns = anthropic_messages(
        [ChatMessage("user", "a"), ChatMessage("tool", "b"), ChatMessage("assistant", "c")]
    )
    assert system == ""
    assert turns == [{"role": "user", "content": "a\n\nb"}, {"role": "assistant", "content": "c"}]
    assert anthropic_messages([ChatMessage("system", "Only this.")]) == (
        "",
        [{"role": "user", "content": "Only this."}],
    )


def test_anthropic_overloaded_is_retryable() -> None:
    answer = httpx.Response(529, json={"type": "error", "error": {"type": "overloaded_error"}})
    provider = AnthropicProvider(
        api_key="k", model="claude", client=client(answer, []), retry=NO_RETRY
    )
    with pytest.raises(RetryableAIError):
        provider.chat(CONVERSATION, model="claude", max_tokens=8)


def test_the_stub_answers_the_last_user_message_at_the_reserved_input_count() -> None:
    result = StubProvider().chat(CONVERSATION, model="stub", max_tokens=4096)
    assert "Name a colour." in result.text
    assert result.finish_reason == "stop"
    assert result.input_tokens == chat_input_tokens(CONVERSATION)
    cut = StubProvider().chat(CONVERSATION, model="stub", max_tokens=3)
    assert (cut.output_tokens, cut.finish_reason) == (3, "length")
    with pytest.raises(PermanentAIError):
        StubProvider().chat(
            [ChatMessage("user", "[[fail-work:permanent]]")], model="stub", max_tokens=8
        )
