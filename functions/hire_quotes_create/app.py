"""POST /api/v1/ai-for-hire/tasks/{task_id}/quotes: quote an open task (the quote fee)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field, StrictInt

from timmy.api import (
    HttpApi,
    L402ChallengeEnvelope,
    base_url,
    created,
    header,
    make_handler,
    response_doc,
)
from timmy.hire import service
from timmy.hire.payment import QUOTE_ROUTE, payer
from timmy.hire.views import HireQuote
from timmy.observability import metrics

app = HttpApi()


class HireQuoteBody(BaseModel):
    price_sats: StrictInt = Field(gt=0, le=2_100_000_000_000_000)
    description: str = Field(default="", description="Stored as given")
    delivery_hours: StrictInt | None = Field(
        default=None,
        ge=1,
        le=2160,
        description="Hours from the accept to the delivery deadline (HIRE_DELIVERY_HOURS_DEFAULT)",
    )


@app.post(
    "/api/v1/ai-for-hire/tasks/<task_id>/quotes",
    summary="Quote an open task (the quote fee: from the balance, or by L402)",
    description="A buyer may not quote their own task (403 forbidden).",
    tags=["ai-for-hire"],
    responses={
        201: response_doc("The quote", HireQuote),
        400: response_doc("invalid_request, invalid_content or too_large"),
        401: response_doc("invalid_token; invalid_l402"),
        402: response_doc(
            "payment_required with an L402 challenge for the fee (no credential: bound to a"
            " new account whose token is in the body; an L402 credential that cannot pay:"
            " bound to its account) or insufficient_balance (with topup_url); nothing was"
            " charged",
            L402ChallengeEnvelope,
        ),
        403: response_doc("forbidden: the task is the caller's own"),
        404: response_doc("not_found"),
        409: response_doc("invalid_state: the task is not open"),
    },
)
def create_quote(task_id: str, body: HireQuoteBody) -> Response[HireQuote]:
    # The ids are part of the request: a malformed one is 404 before any credential.
    task_id = service.parse_id(task_id)
    service.check_quote_text(body.description)
    paying = payer(
        header(app, "x-token"),
        header(app, "authorization"),
        route_id=QUOTE_ROUTE,
        base_url=base_url(app),
    )
    quote = service.create_quote(
        paying.account,
        task_id,
        price_sats=body.price_sats,
        description=body.description,
        delivery_hours=body.delivery_hours,
        base_url=base_url(app),
        credential=paying.credential,
    )
    metrics.add_metric(name="HireQuotesSubmitted", unit=MetricUnit.Count, value=1)
    return created(quote)


handler = make_handler(app)
