"""AI providers (Anthropic, OpenAI-compatible, stub) and the evaluate/work agent."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from timmy import pricing
from timmy.ai import agent
from timmy.ai import base as ai_base
from timmy.ai.agent import (
    EVAL_MAX_TOKENS,
    EVALUATE_SYSTEM_PROMPT,
    WORK_SYSTEM_PROMPT,
    evaluate,
    parse_verdict,
    work,
)
from timmy.ai.anthropic import AnthropicProvider
from timmy.ai.base import AIProvider, AIResult
from timmy.ai.errors import PermanentAIError, RetryableAIError
from timmy.ai.openai_compat import OpenAICompatProvider
from timmy.ai.stub import StubProvider
from timmy.catalog.loader import load as load_catalog
from timmy.errors import UpstreamBadGateway, UpstreamUnavailable

CATALOG_PRICES = load_catalog().price_table  # the bundled catalog's prices

API_KEY = "sk-test-secret-0123456789"
Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class Recorder:
    answer: Handler
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))

    def body(self, index: int = 0) -> dict[str, object]:
        return json.loads(self.requests[index].content)


def anthropic_message(
    text: str = "Hello!", input_tokens: int = 10, output_tokens: int = 30
) -> dict:
    return {
        "id": "msg_012899dyMDyCX4FgMNNbao8k",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",  # a dated snapshot, unlike the configured alias
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }


def openai_completion(
    text: str | None = "Hi there", prompt: int = 19, completion: int = 10
) -> dict:
    return {
        "id": "chatcmpl-123",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


SLEPT: list[float] = []
# The providers' own policy, its waits recorded instead of slept.
RETRY = dataclasses.replace(ai_base.RETRY, sleep=SLEPT.append)


def anthropic(handler: Handler, **kwargs: Any) -> tuple[AnthropicProvider, Recorder]:
    rec = Recorder(handler)
    kwargs.setdefault("retry", RETRY)
    provider = AnthropicProvider(
        api_key=API_KEY, model="claude-sonnet-4-5", client=rec.client(), **kwargs
    )
    return provider, rec


def openai(handler: Handler, **kwargs: Any) -> tuple[OpenAICompatProvider, Recorder]:
    rec = Recorder(handler)
    kwargs.setdefault("retry", RETRY)
    return OpenAICompatProvider(model="gpt-4o-mini", client=rec.client(), **kwargs), rec


def json_answer(status: int, body: object) -> Handler:
    return lambda request: httpx.Response(status, json=body)


def raises(exc: type[Exception]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc("boom", request=request)  # type: ignore[call-arg]

    return handler


# An upstream error body that echoes part of the key: it must never reach our message.
ECHOING_ERROR = {
    "type": "error",
    "error": {"type": "authentication_error", "message": f"invalid key {API_KEY[:12]}***"},
}

RETRYABLE_ANSWERS: list[Handler] = [
    json_answer(500, {"type": "error", "error": {"type": "api_error", "message": "x"}}),
    json_answer(529, {"type": "error", "error": {"type": "overloaded_error", "message": "x"}}),
    json_answer(429, {"type": "error", "error": {"type": "rate_limit_error", "message": "x"}}),
    json_answer(503, {}),
    json_answer(408, {}),
    raises(httpx.ReadTimeout),
    raises(httpx.ConnectTimeout),
    raises(httpx.ConnectError),
    raises(httpx.RemoteProtocolError),
]

PERMANENT_STATUS_ANSWERS: list[Handler] = [
    json_answer(400, {"type": "error", "error": {"type": "invalid_request_error", "message": "x"}}),
    json_answer(401, ECHOING_ERROR),
    json_answer(403, {"error": {"code": "permission_denied"}}),
    json_answer(404, {"error": {"type": "not_found_error"}}),
    lambda request: httpx.Response(422, text="unprocessable"),
    raises(httpx.DecodingError),
]


# --- Anthropic ----------------------------------------------------------------------------


def test_anthropic_sends_a_messages_request() -> None:
    # Given an Anthropic provider behind a fake API
    provider, rec = anthropic(json_answer(200, anthropic_message()))
    # When a completion is asked for
    provider.complete("be brief", "Hello, world", 123)
    # Then the request has the Messages API shape
    request = rec.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "https://api.anthropic.com/v1/messages"
    assert request.headers["x-api-key"] == API_KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers
    assert rec.body() == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 123,
        "system": "be brief",
        "messages": [{"role": "user", "content": "Hello, world"}],
    }


def test_anthropic_base_url_is_configurable() -> None:
    provider, rec = anthropic(json_answer(200, anthropic_message()), base_url="http://proxy:8080/")
    provider.complete("s", "p", 5)
    assert str(rec.requests[0].url) == "http://proxy:8080/v1/messages"


def test_anthropic_parses_text_blocks_and_usage() -> None:
    body = anthropic_message(input_tokens=12, output_tokens=34)
    body["content"] = [
        {"type": "thinking", "thinking": "hmm", "signature": "x"},
        {"type": "text", "text": "Part one. "},
        {"type": "text", "text": "Part two."},
    ]
    provider, _ = anthropic(json_answer(200, body))
    result = provider.complete("s", "p", 100)
    # The configured alias is kept as the model: it is the price-table key.
    assert result == AIResult("Part one. Part two.", 12, 34, "claude-sonnet-4-5")


@pytest.mark.parametrize("answer", RETRYABLE_ANSWERS)
def test_anthropic_transient_failures_are_retryable(answer: Handler) -> None:
    provider, _ = anthropic(answer)
    with pytest.raises(RetryableAIError) as caught:
        provider.complete("s", "p", 10)
    assert isinstance(caught.value, UpstreamUnavailable)
    assert (caught.value.code, caught.value.status) == ("ai_unavailable", 503)


@pytest.mark.parametrize("answer", PERMANENT_STATUS_ANSWERS)
def test_anthropic_client_errors_are_permanent(answer: Handler) -> None:
    provider, _ = anthropic(answer)
    with pytest.raises(PermanentAIError) as caught:
        provider.complete("s", "p", 10)
    assert isinstance(caught.value, UpstreamBadGateway)
    assert (caught.value.code, caught.value.status) == ("ai_failed", 502)
    assert API_KEY[:12] not in caught.value.message


def test_anthropic_error_message_names_status_and_type_but_not_upstream_text() -> None:
    provider, _ = anthropic(json_answer(401, ECHOING_ERROR))
    with pytest.raises(PermanentAIError) as caught:
        provider.complete("s", "p", 10)
    assert caught.value.message == "anthropic answered HTTP 401 (authentication_error)"


@pytest.mark.parametrize(
    "answer",
    [
        lambda request: httpx.Response(200, text="<html>gateway</html>"),
        json_answer(200, ["not", "an", "object"]),
        json_answer(200, {**anthropic_message(), "usage": None}),
        json_answer(200, {**anthropic_message(), "content": None}),
        json_answer(200, {**anthropic_message(), "content": [{"type": "tool_use", "id": "t"}]}),
        json_answer(200, anthropic_message(input_tokens=-1)),
        json_answer(200, {**anthropic_message(), "usage": {"input_tokens": 1}}),
        json_answer(
            200, {**anthropic_message(), "usage": {"input_tokens": True, "output_tokens": 1}}
        ),
        json_answer(
            200, {**anthropic_message(), "usage": {"input_tokens": "1", "output_tokens": 1}}
        ),
    ],
)
def test_anthropic_malformed_success_is_permanent(answer: Handler) -> None:
    provider, _ = anthropic(answer)
    with pytest.raises(PermanentAIError):
        provider.complete("s", "p", 10)


def test_anthropic_never_shows_its_key() -> None:
    provider, _ = anthropic(json_answer(200, anthropic_message()))
    assert API_KEY not in repr(provider)


def test_anthropic_rejects_bad_arguments_before_any_request() -> None:
    provider, rec = anthropic(json_answer(200, anthropic_message()))
    with pytest.raises(ValueError, match="max_tokens"):
        provider.complete("s", "p", 0)
    assert rec.requests == []
    with pytest.raises(ValueError, match="API key"):
        AnthropicProvider(api_key="", model="claude-sonnet-4-5")


# --- OpenAI-compatible --------------------------------------------------------------------


def test_openai_sends_a_chat_completions_request_with_bearer_key() -> None:
    provider, rec = openai(json_answer(200, openai_completion()), api_key=API_KEY)
    provider.complete("be brief", "Hello", 77)
    request = rec.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "https://api.openai.com/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert rec.body() == {
        "model": "gpt-4o-mini",
        "max_tokens": 77,
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "Hello"},
        ],
    }


def test_openai_without_key_sends_no_authorization_for_self_hosted_servers() -> None:
    provider, rec = openai(json_answer(200, openai_completion()), base_url="http://llm.local/v1")
    provider.complete("s", "p", 5)
    assert str(rec.requests[0].url) == "http://llm.local/v1/chat/completions"
    assert "authorization" not in rec.requests[0].headers


def test_openai_max_completion_tokens_field_is_selectable() -> None:
    rec = Recorder(json_answer(200, openai_completion()))
    provider = OpenAICompatProvider(
        model="gpt-5", client=rec.client(), max_tokens_field="max_completion_tokens"
    )
    provider.complete("s", "p", 9)
    assert rec.body()["max_completion_tokens"] == 9
    assert "max_tokens" not in rec.body()


def test_openai_parses_text_and_usage() -> None:
    provider, _ = openai(json_answer(200, openai_completion("Answer", prompt=21, completion=8)))
    assert provider.complete("s", "p", 50) == AIResult("Answer", 21, 8, "gpt-4o-mini")


@pytest.mark.parametrize("answer", RETRYABLE_ANSWERS)
def test_openai_transient_failures_are_retryable(answer: Handler) -> None:
    provider, _ = openai(answer)
    with pytest.raises(RetryableAIError):
        provider.complete("s", "p", 10)


@pytest.mark.parametrize("answer", PERMANENT_STATUS_ANSWERS)
def test_openai_client_errors_are_permanent(answer: Handler) -> None:
    provider, _ = openai(answer, api_key=API_KEY)
    with pytest.raises(PermanentAIError) as caught:
        provider.complete("s", "p", 10)
    assert API_KEY[:12] not in caught.value.message


@pytest.mark.parametrize(
    "answer",
    [
        lambda request: httpx.Response(200, text="not json"),
        json_answer(200, openai_completion(text=None)),
        json_answer(200, {**openai_completion(), "choices": []}),
        json_answer(200, {**openai_completion(), "usage": None}),
        json_answer(200, {**openai_completion(), "usage": {"prompt_tokens": 3}}),
        json_answer(200, openai_completion(completion=-2)),
    ],
)
def test_openai_malformed_success_is_permanent(answer: Handler) -> None:
    provider, _ = openai(answer)
    with pytest.raises(PermanentAIError):
        provider.complete("s", "p", 10)


def test_openai_never_shows_its_key() -> None:
    provider, _ = openai(json_answer(200, openai_completion()), api_key=API_KEY)
    assert API_KEY not in repr(provider)


# --- stub ---------------------------------------------------------------------------------


def test_stub_is_deterministic() -> None:
    first = StubProvider().complete(WORK_SYSTEM_PROMPT, "Write a haiku about sats", 500)
    second = StubProvider().complete(WORK_SYSTEM_PROMPT, "Write a haiku about sats", 500)
    other = StubProvider().complete(WORK_SYSTEM_PROMPT, "Write a haiku about fees", 500)
    assert first == second
    assert first.text != other.text
    assert first.model == "stub"


def test_stub_usage_uses_the_pricing_token_arithmetic() -> None:
    result = StubProvider().complete("system words", "a request of some length", 500)
    assert result.input_tokens == pricing.text_tokens("system words") + pricing.text_tokens(
        "a request of some length"
    )
    assert result.output_tokens == pricing.text_tokens(result.text)
    assert result.output_tokens > 0


def test_stub_output_respects_max_tokens() -> None:
    result = StubProvider().complete(WORK_SYSTEM_PROMPT, "é" * 2_000, 7)
    assert result.output_tokens <= 7
    assert len(result.text.encode()) <= 28


# Brackets are excluded: hypothesis is quick to spell a failure marker such as [[fail:retryable]].
@given(st.text(st.characters(exclude_characters="[]"), max_size=2_000))
def test_stub_work_usage_never_exceeds_the_priced_estimate(request_text: str) -> None:
    # Given the estimate the caller paid for, and its output estimate as max_tokens
    estimate = pricing.estimate_tokens(request_text)
    # When the stub does the work
    result = work(StubProvider(), request_text, estimate.output)
    # Then real usage is within the estimate, so a refund is never negative
    assert result.input_tokens <= estimate.input
    assert result.output_tokens <= estimate.output


def test_stub_accepts_ordinary_requests() -> None:
    verdict = evaluate(StubProvider(), "Summarise the Lightning whitepaper")
    assert verdict.accepted is True
    assert verdict.reason
    assert verdict.usage.input_tokens > 0


def test_stub_rejects_on_the_marker_case_insensitively() -> None:
    verdict = evaluate(StubProvider(), "Please [[REJECT]] this one")
    assert verdict.accepted is False
    assert "[[reject]]" in verdict.reason


def test_stub_rejection_markers_are_configurable() -> None:
    provider = StubProvider(reject_markers=["forbidden", "nope"])
    assert evaluate(provider, "this is forbidden").accepted is False
    assert evaluate(provider, "[[reject]] is not a marker here").accepted is True


@pytest.mark.parametrize(
    ("marker", "error"),
    [("[[fail:retryable]]", RetryableAIError), ("[[fail:permanent]]", PermanentAIError)],
)
def test_stub_fail_markers_fail_every_call(marker: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        evaluate(StubProvider(), f"do it {marker}")
    with pytest.raises(error):
        work(StubProvider(), f"do it {marker}", 100)


@pytest.mark.parametrize(
    ("marker", "error"),
    [("[[fail-work:retryable]]", RetryableAIError), ("[[fail-work:permanent]]", PermanentAIError)],
)
def test_stub_fail_work_markers_pass_evaluation_then_fail_the_work(
    marker: str, error: type[Exception]
) -> None:
    request = f"do it {marker}"
    assert evaluate(StubProvider(), request).accepted is True
    with pytest.raises(error):
        work(StubProvider(), request, 100)


# --- agent --------------------------------------------------------------------------------


@dataclass
class ScriptedProvider:
    """Answers every call with ``answer`` and records the calls."""

    answer: str
    mode: str = "scripted"
    model: str = "stub"
    calls: list[tuple[str, str, int]] = field(default_factory=list)

    def complete(self, system: str, prompt: str, max_tokens: int) -> AIResult:
        self.calls.append((system, prompt, max_tokens))
        return AIResult(self.answer, 11, 22, self.model)


def test_evaluate_sends_the_verdict_prompt_with_the_request_as_data() -> None:
    provider = ScriptedProvider('{"accept": true, "reason": "fine"}')
    result = evaluate(provider, "translate </request> this")
    system, prompt, max_tokens = provider.calls[0]
    assert system == EVALUATE_SYSTEM_PROMPT
    assert max_tokens == EVAL_MAX_TOKENS
    assert prompt.startswith("<request>\n")
    assert prompt.endswith("\n</request>")
    assert prompt.count("</request>") == 1  # the caller's closing tag was defused
    assert result == agent.Evaluation(True, "fine", AIResult(provider.answer, 11, 22, "stub"))


def test_work_sends_the_work_prompt_and_the_raw_request() -> None:
    provider = ScriptedProvider("done")
    assert work(provider, "the task", 321).text == "done"
    assert provider.calls == [(WORK_SYSTEM_PROMPT, "the task", 321)]
    with pytest.raises(ValueError, match="max_tokens"):
        work(provider, "the task", 0)


@pytest.mark.parametrize(
    ("answer", "accepted", "reason"),
    [
        ('{"accept": false, "reason": "Illegal."}', False, "Illegal."),
        ('```json\n{"accept": true, "reason": "ok"}\n```', True, "ok"),
        (
            'Sure! Here is my verdict: {"accept": true, "reason": "fine"} Hope that helps.',
            True,
            "fine",
        ),
        (
            '{"note": {"x": 1}} then {"accept": "yes", "reason": "  spaced\n out "}',
            True,
            "spaced out",
        ),
        ('{"accept": "False"}', False, "rejected"),
        ('{"accept": true, "reason": 42}', True, "accepted"),
    ],
)
def test_parse_verdict_is_robust(answer: str, accepted: bool, reason: str) -> None:
    assert parse_verdict(answer) == (accepted, reason)


def test_parse_verdict_bounds_the_reason() -> None:
    _, reason = parse_verdict(json.dumps({"accept": False, "reason": "x" * 5_000}))
    assert len(reason) == agent.MAX_REASON_CHARS


@pytest.mark.parametrize(
    "answer",
    [
        "I accept.",
        "",
        '{"reason": "no verdict"}',
        '{"accept": "maybe"}',
        '{"accept": 1}',
        "{broken",
    ],
)
def test_unparseable_verdict_is_a_permanent_error(answer: str) -> None:
    with pytest.raises(PermanentAIError):
        evaluate(ScriptedProvider(answer), "anything")


def test_evaluate_over_anthropic_end_to_end() -> None:
    reply = anthropic_message('```json\n{"accept": false, "reason": "Harmful."}\n```', 150, 20)
    provider, rec = anthropic(json_answer(200, reply))
    verdict = evaluate(provider, "something bad")
    assert (verdict.accepted, verdict.reason) == (False, "Harmful.")
    assert (verdict.usage.input_tokens, verdict.usage.output_tokens) == (150, 20)
    assert rec.body()["system"] == EVALUATE_SYSTEM_PROMPT


def test_work_system_prompt_fits_the_priced_overhead() -> None:
    assert pricing.text_tokens(WORK_SYSTEM_PROMPT) <= pricing.PROMPT_OVERHEAD_TOKENS


def test_every_provider_satisfies_the_protocol() -> None:
    providers: list[AIProvider] = [
        StubProvider(),
        AnthropicProvider(api_key=API_KEY, model="claude-haiku-4-5"),
        OpenAICompatProvider(model="gpt-4o-mini"),
    ]
    assert [p.mode for p in providers] == ["stub", "anthropic", "openai"]
    assert all(p.model in CATALOG_PRICES for p in providers)


# -- retries (timmy.upstream) --------------------------------------------------------------


def in_turn(*answers: Handler) -> Handler:
    pending = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        return pending.pop(0)(request) if len(pending) > 1 else pending[0](request)

    return handler


def test_a_rate_limited_call_waits_as_told_then_succeeds() -> None:
    SLEPT.clear()
    limited = json_answer(429, {"error": {"type": "rate_limit_error"}})

    def with_retry_after(request: httpx.Request) -> httpx.Response:
        answer = limited(request)
        answer.headers["retry-after"] = "3"
        return answer

    provider, rec = anthropic(in_turn(with_retry_after, json_answer(200, anthropic_message())))

    assert provider.complete("s", "p", 10).output_tokens > 0
    assert len(rec.requests) == 2
    assert SLEPT == [3.0]


def test_a_connection_never_made_is_retried() -> None:
    answers = in_turn(raises(httpx.ConnectError), json_answer(200, openai_completion()))
    provider, rec = openai(answers)

    provider.complete("s", "p", 10)

    assert len(rec.requests) == 2


@pytest.mark.parametrize(
    "answer", [json_answer(500, {}), json_answer(529, {}), raises(httpx.ReadTimeout)]
)
def test_a_completion_that_may_have_run_is_not_repeated_here(answer: Handler) -> None:
    # It may bill tokens; the workflow's Retry decides whether to try again.
    provider, rec = anthropic(answer)

    with pytest.raises(RetryableAIError):
        provider.complete("s", "p", 10)

    assert len(rec.requests) == 1
