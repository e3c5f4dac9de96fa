"""POST /v1/chat/completions: an OpenAI chat completion, paid in sats by an account, a session
or an L402 credential."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit

from timmy.api import (
    HttpApi,
    L402ChallengeEnvelope,
    base_url,
    header,
    json_response,
    make_handler,
    response_doc,
)
from timmy.chat.service import complete, event_stream
from timmy.chat.views import ChatCompletion, ChatCompletionRequest
from timmy.observability import metrics

app = HttpApi(openai_errors=True)


@app.post(
    "/v1/chat/completions",
    summary="Chat completion (OpenAI's shapes), paid in sats",
    description=(
        "Credentials: an account token (`Authorization: Bearer tmy_…` or `X-Token`), a"
        " session macaroon (`Authorization: Bearer <macaroon>`) or an L402 credential"
        " (`Authorization: L402 <macaroon>:<preimage>`, or `LSAT`). Without credentials the"
        " answer is a 402 challenge: `WWW-Authenticate` (LSAT, then L402), `Cache-Control:"
        " no-store` and the `l402` object, whose invoice is this request's maximum cost; a"
        " credential that is expired, spent, short or for another route gets a fresh one."
        " The request's maximum cost"
        " (input estimate + `max_completion_tokens`, or the model's `max_output_tokens`, at its"
        " price) is held, the free tier decides for Nostr-bound payers, the provider answers,"
        " and the real usage is charged (rounded up, at least 1 sat); the rest is released at"
        " once. `stream: true` answers `text/event-stream` chunks ending `data: [DONE]` (a"
        " usage chunk with `stream_options.include_usage`), delivered whole: Lambda behind an"
        " HTTP API cannot stream. Every paid answer carries `X-Timmy-Cost-Sats` and"
        " `X-Timmy-Balance-Sats`. Errors add OpenAI's `type` and `param`."
    ),
    tags=["openai"],
    responses={
        200: {
            "description": "The completion, or with stream: true its events (delivered whole)",
            "content": {
                "application/json": {"model": ChatCompletion},
                "text/event-stream": {"schema": {"type": "string"}},
            },
        },
        400: response_doc("Invalid request; model_not_supported; n > 1; max_tokens_too_large"),
        401: response_doc(
            "invalid_token, invalid_macaroon, macaroon_expired, invalid_l402: forged, tampered"
            " or unknown"
        ),
        402: response_doc(
            "payment_required with an L402 challenge (no credentials, or an L402 credential"
            " that cannot pay); insufficient_balance (with topup_url); session_not_paid;"
            " session_expired. Nothing is charged",
            L402ChallengeEnvelope,
        ),
        502: response_doc("The AI provider failed (ai_failed); nothing was charged"),
        503: response_doc("The AI provider is unavailable (ai_unavailable); nothing was charged"),
    },
)
def chat_completions(body: ChatCompletionRequest) -> Response[Any]:
    answer = complete(
        body,
        authorization=header(app, "authorization"),
        x_token=header(app, "x-token"),
        base_url=base_url(app),
    )
    metrics.add_metric(name="ChatCompletions", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ChatSatsCharged", unit=MetricUnit.Count, value=answer.charged_sats)
    headers = {
        "X-Timmy-Cost-Sats": str(answer.charged_sats),
        "X-Timmy-Balance-Sats": str(answer.balance_sats),
    }
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        text = event_stream(answer.completion, include_usage=include_usage)
        return Response(
            200, "text/event-stream", text, headers={**headers, "Cache-Control": "no-cache"}
        )
    return json_response(200, answer.completion, headers)


handler = make_handler(app)
