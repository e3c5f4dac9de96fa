"""POST and GET /api/v1/ai-for-hire/tasks/{task_id}/quotes/{quote_id}/messages: the quote's
thread, for the buyer and that quote's contractor."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, Field

from timmy.accounts import tokens
from timmy.accounts.service import authenticate
from timmy.api import HttpApi, created, header, make_handler, response_doc
from timmy.hire import service
from timmy.hire.views import HireMessage, HireMessageList

app = HttpApi()


class HireMessageBody(BaseModel):
    body: str = Field(description="HIRE_MAX_MESSAGE_CHARS at most; stored as given")


_RESPONSES = {
    401: response_doc("missing_token or invalid_token"),
    403: response_doc("forbidden: neither the buyer nor this quote's contractor"),
    404: response_doc("not_found"),
}


@app.post(
    "/api/v1/ai-for-hire/tasks/<task_id>/quotes/<quote_id>/messages",
    summary="Write on a quote's thread (pending or accepted quotes)",
    tags=["ai-for-hire"],
    responses={
        201: response_doc("The message", HireMessage),
        400: response_doc("invalid_request, invalid_content or too_large"),
        409: response_doc("invalid_state: the quote is rejected or withdrawn"),
        **_RESPONSES,
    },
)
def post_message(task_id: str, quote_id: str, body: HireMessageBody) -> Response[HireMessage]:
    # The ids are part of the request: a malformed one is 404 before any credential.
    task_id = service.parse_id(task_id)
    quote_id = service.parse_id(quote_id, "quote")
    account = authenticate(tokens.required(header(app, "x-token"), header(app, "authorization")))
    return created(service.post_message(account, task_id, quote_id, body.body))


@app.get(
    "/api/v1/ai-for-hire/tasks/<task_id>/quotes/<quote_id>/messages",
    summary="Read a quote's thread, oldest first",
    tags=["ai-for-hire"],
    responses={200: response_doc("The messages", HireMessageList), **_RESPONSES},
)
def list_messages(task_id: str, quote_id: str) -> HireMessageList:
    # The ids are part of the request: a malformed one is 404 before any credential.
    task_id = service.parse_id(task_id)
    quote_id = service.parse_id(quote_id, "quote")
    account = authenticate(tokens.required(header(app, "x-token"), header(app, "authorization")))
    return service.list_messages(account, task_id, quote_id)


handler = make_handler(app)
