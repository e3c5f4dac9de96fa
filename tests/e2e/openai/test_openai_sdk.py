"""The official ``openai`` Python SDK against ``/v1`` through the local gateway: it lists the
models, completes, streams with usage, is refused with a 402 it does not retry, and a forged
credential is a 401. Every paid answer moves exactly its cost, ledger row for ledger row."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import openai
import pytest

from timmy.ai.base import ChatMessage, chat_input_tokens
from timmy.data.accounts import LedgerReason

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.e2e.openai.conftest import Account, Sdk

MESSAGES: list[Any] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Say hello."},
]
INPUT_ESTIMATE = chat_input_tokens([ChatMessage(m["role"], m["content"]) for m in MESSAGES])
MAX_TOKENS = 50


def test_the_sdk_lists_the_models_with_their_prices(sdk: Sdk, sat_per_token: None) -> None:
    # Free: no credential needed, and a forged one is ignored.
    models = sdk.client("tmy_" + "A" * 43).models.list()
    assert [model.id for model in models.data] == ["stub"]
    assert models.data[0].object == "model"
    raw = httpx.get(f"{sdk.base_url}/v1/models").json()
    assert raw["object"] == "list"
    assert raw["data"][0]["pricing"] == {
        "sats_per_mtok_input": 1_000_000,
        "sats_per_mtok_output": 1_000_000,
        "max_output_tokens": 4096,
    }


def test_a_completion_charges_its_real_usage_and_releases_the_rest(
    sdk: Sdk, accounts: Callable[..., Account], sat_per_token: None
) -> None:
    account = accounts(1_000)
    client = sdk.client(account.token)
    raw = client.chat.completions.with_raw_response.create(
        model="stub", messages=MESSAGES, max_tokens=MAX_TOKENS
    )
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content.startswith("Stub result")
    assert completion.choices[0].finish_reason == "stop"
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens == INPUT_ESTIMATE
    cost = usage.total_tokens  # one sat per token
    assert raw.headers["x-timmy-cost-sats"] == str(cost)
    assert raw.headers["x-timmy-balance-sats"] == str(1_000 - cost)
    assert account.balance() == 1_000 - cost
    hold = INPUT_ESTIMATE + MAX_TOKENS
    assert account.ledger() == [
        (LedgerReason.TOPUP, 1_000),
        (LedgerReason.CHAT_HOLD, -hold),
        (LedgerReason.CHAT_RELEASE, hold - cost),
    ]
    [row] = account.requests()
    assert row["state"] == "complete"
    assert (row["max_cost_sats"], row["charged_sats"]) == (hold, cost)


def test_the_x_token_header_pays_too(
    sdk: Sdk, accounts: Callable[..., Account], sat_per_token: None
) -> None:
    account = accounts(1_000)
    answer = httpx.post(
        f"{sdk.base_url}/v1/chat/completions",
        json={"model": "stub", "messages": MESSAGES, "max_completion_tokens": 8},
        headers={"X-Token": account.token},
    )
    assert answer.status_code == 200, answer.text
    assert int(answer.headers["x-timmy-cost-sats"]) == INPUT_ESTIMATE + 8  # cut at 8 tokens
    assert answer.json()["choices"][0]["finish_reason"] == "length"


def test_a_stream_with_usage_ends_with_the_usage_chunk(
    sdk: Sdk, accounts: Callable[..., Account], sat_per_token: None
) -> None:
    account = accounts(1_000)
    client = sdk.client(account.token)
    whole = client.chat.completions.create(model="stub", messages=MESSAGES, max_tokens=MAX_TOKENS)
    chunks = list(
        client.chat.completions.create(
            model="stub",
            messages=MESSAGES,
            max_tokens=MAX_TOKENS,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert whole.usage is not None
    assert last.usage.total_tokens == whole.usage.total_tokens
    assert account.balance() == 1_000 - 2 * whole.usage.total_tokens

    raw = httpx.post(
        f"{sdk.base_url}/v1/chat/completions",
        json={"model": "stub", "messages": MESSAGES, "max_tokens": 5, "stream": True},
        headers={"Authorization": f"Bearer {account.token}"},
    )
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.text.endswith("data: [DONE]\n\n")
    assert int(raw.headers["x-timmy-balance-sats"]) == account.balance()
    assert '"usage"' not in raw.text  # no usage chunk unless asked for


def test_an_unfunded_account_gets_a_402_the_sdk_does_not_retry(
    sdk: Sdk, accounts: Callable[..., Account]
) -> None:
    account = accounts(0)
    client = sdk.client(account.token, max_retries=3)
    with pytest.raises(openai.APIStatusError) as refused:
        client.chat.completions.create(model="stub", messages=MESSAGES)
    assert refused.value.status_code == 402
    assert len(sdk.sent) == 1  # not retried
    error = refused.value.response.json()["error"]
    assert error["code"] == "insufficient_balance"
    assert error["type"] == "insufficient_quota"
    assert error["param"] is None
    assert error["topup_url"].endswith("/api/v1/topup")
    assert account.ledger() == []
    assert account.requests() == []


@pytest.mark.parametrize(
    "api_key",
    ["tmy_" + "A" * 43, "tmy_short", "AgEUdGltbXktc2Vzc2lvbjp2MTpub3BlAAAGIA" + "A" * 43],
    ids=["unknown-account-token", "malformed-account-token", "forged-macaroon"],
)
def test_a_forged_credential_is_401(sdk: Sdk, api_key: str) -> None:
    client = sdk.client(api_key, max_retries=3)
    with pytest.raises(openai.AuthenticationError) as refused:
        client.chat.completions.create(model="stub", messages=MESSAGES)
    assert len(sdk.sent) == 1
    error = refused.value.response.json()["error"]
    assert error["code"] in {"invalid_token", "invalid_macaroon"}
    assert error["type"] == "authentication_error"


def test_no_credentials_is_402_payment_required(api: httpx.Client) -> None:
    answer = api.post("/v1/chat/completions", json={"model": "stub", "messages": MESSAGES})
    assert answer.status_code == 402
    assert answer.json()["error"]["code"] == "payment_required"


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"model": "gpt-9", "messages": MESSAGES}, "model_not_supported", "model"),
        ({"model": "stub", "messages": MESSAGES, "n": 2}, "invalid_request", "n"),
        ({"model": "stub", "messages": []}, "invalid_request", "messages"),
        (
            {"model": "stub", "messages": MESSAGES, "max_tokens": 5000},
            "max_tokens_too_large",
            "max_tokens",
        ),
        (
            {"model": "stub", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
            "invalid_request",
            "messages.0.content.str",
        ),
    ],
)
def test_invalid_requests_are_400_before_credentials_or_payment(
    api: httpx.Client, body: dict[str, Any], code: str, param: str
) -> None:
    for headers in ({}, {"Authorization": "Bearer tmy_" + "A" * 43}):
        answer = api.post("/v1/chat/completions", json=body, headers=headers)
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert error["code"] == code
        assert error["type"] == "invalid_request_error"
        assert error["param"] == param


def test_unknown_fields_the_sdks_send_are_tolerated(
    api: httpx.Client, accounts: Callable[..., Account], free_model: None
) -> None:
    account = accounts(10)
    answer = api.post(
        "/v1/chat/completions",
        json={
            "model": "stub",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
            "seed": 7,
            "parallel_tool_calls": False,
            "metadata": {"x": "y"},
        },
        headers={"X-Token": account.token},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-timmy-cost-sats"] == "1"  # a free model still costs 1 sat


def test_a_provider_failure_is_503_and_charges_nothing(
    sdk: Sdk, accounts: Callable[..., Account], sat_per_token: None
) -> None:
    account = accounts(1_000)
    client = sdk.client(account.token, max_retries=0)
    with pytest.raises(openai.InternalServerError) as failed:
        client.chat.completions.create(
            model="stub",
            messages=[{"role": "user", "content": "[[fail-work:retryable]]"}],
            max_tokens=MAX_TOKENS,
        )
    assert failed.value.status_code == 503
    assert failed.value.response.json()["error"]["code"] == "ai_unavailable"
    assert account.balance() == 1_000
    hold = account.ledger()[1][1]
    assert account.ledger()[1:] == [
        (LedgerReason.CHAT_HOLD, hold),
        (LedgerReason.CHAT_RELEASE, -hold),
    ]
    assert [row["state"] for row in account.requests()] == ["failed"]
