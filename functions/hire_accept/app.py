"""POST /api/v1/ai-for-hire/tasks/{task_id}/quotes/{quote_id}/accept: the buyer accepts a
quote; its price moves from the balance into escrow in the same transaction."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field, StrictInt

from timmy.accounts import tokens
from timmy.accounts.service import authenticate
from timmy.api import HttpApi, base_url, header, make_handler, response_doc
from timmy.hire import service
from timmy.hire.views import HireAccepted
from timmy.observability import metrics

app = HttpApi()


class HireAcceptBody(BaseModel):
    expected_price_sats: StrictInt | None = Field(
        default=None, description="409 price_changed if the quote's price is no longer this"
    )


@app.post(
    "/api/v1/ai-for-hire/tasks/<task_id>/quotes/<quote_id>/accept",
    summary="Accept a quote (the buyer): escrow from the balance, other quotes rejected",
    tags=["ai-for-hire"],
    responses={
        200: response_doc("In escrow", HireAccepted),
        400: response_doc("invalid_request"),
        401: response_doc("missing_token or invalid_token"),
        402: response_doc("insufficient_balance (with topup_url); nothing changed"),
        403: response_doc("forbidden: not the task's buyer"),
        404: response_doc("not_found"),
        409: response_doc("invalid_state (task not open, quote not pending) or price_changed"),
    },
)
def accept(task_id: str, quote_id: str, body: HireAcceptBody | None = None) -> HireAccepted:
    # The ids are part of the request: a malformed one is 404 before any credential.
    task_id = service.parse_id(task_id)
    quote_id = service.parse_id(quote_id, "quote")
    account = authenticate(tokens.required(header(app, "x-token"), header(app, "authorization")))
    accepted = service.accept(
        account,
        task_id,
        quote_id,
        expected_price_sats=body.expected_price_sats if body else None,
        base_url=base_url(app),
    )
    metrics.add_metric(name="HireEscrowedSats", unit=MetricUnit.Count, value=accepted.escrowed_sats)
    return accepted


handler = make_handler(app)
