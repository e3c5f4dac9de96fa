"""PATCH /api/v1/ai-for-hire/tasks/{task_id}/quotes/{quote_id} and POST …/withdraw: the
quote's contractor, while it is pending."""

from __future__ import annotations

from pydantic import BaseModel, Field, StrictInt

from timmy.accounts import tokens
from timmy.accounts.service import authenticate
from timmy.api import HttpApi, header, make_handler, response_doc
from timmy.hire import service
from timmy.hire.views import HireQuote

app = HttpApi()


class HireQuotePatch(BaseModel):
    price_sats: StrictInt | None = Field(default=None, gt=0, le=2_100_000_000_000_000)
    description: str | None = None
    delivery_hours: StrictInt | None = Field(default=None, ge=1, le=2160)


_RESPONSES = {
    200: response_doc("The quote", HireQuote),
    401: response_doc("missing_token or invalid_token"),
    403: response_doc("forbidden: not the quote's contractor"),
    404: response_doc("not_found"),
    409: response_doc("invalid_state: the quote is not pending"),
}


@app.patch(
    "/api/v1/ai-for-hire/tasks/<task_id>/quotes/<quote_id>",
    summary="Change a pending quote (its contractor)",
    description="A buyer who accepts with expected_price_sats is protected from a change.",
    tags=["ai-for-hire"],
    responses={**_RESPONSES, 400: response_doc("invalid_request, invalid_content, too_large")},
)
def update_quote(task_id: str, quote_id: str, body: HireQuotePatch) -> HireQuote:
    # The ids are part of the request: a malformed one is 404 before any credential.
    task_id = service.parse_id(task_id)
    quote_id = service.parse_id(quote_id, "quote")
    account = authenticate(tokens.required(header(app, "x-token"), header(app, "authorization")))
    return service.update_quote(
        account,
        task_id,
        quote_id,
        price_sats=body.price_sats,
        description=body.description,
        delivery_hours=body.delivery_hours,
    )


@app.post(
    "/api/v1/ai-for-hire/tasks/<task_id>/quotes/<quote_id>/withdraw",
    summary="Withdraw a pending quote (its contractor; the quote fee is not returned)",
    tags=["ai-for-hire"],
    responses=_RESPONSES,
)
def withdraw_quote(task_id: str, quote_id: str) -> HireQuote:
    # The ids are part of the request: a malformed one is 404 before any credential.
    task_id = service.parse_id(task_id)
    quote_id = service.parse_id(quote_id, "quote")
    account = authenticate(tokens.required(header(app, "x-token"), header(app, "authorization")))
    return service.withdraw_quote(account, task_id, quote_id)


handler = make_handler(app)
