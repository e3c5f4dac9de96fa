"""POST /api/v1/ai-for-hire/tasks/{task_id}/deliver: the accepted contractor delivers."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, Field

from timmy.accounts import tokens
from timmy.accounts.service import authenticate
from timmy.api import HttpApi, created, header, make_handler, response_doc
from timmy.hire import service
from timmy.hire.views import HireDelivery

app = HttpApi()


class HireDeliverBody(BaseModel):
    filename: str = Field(description="Stored as given (never used as a path)")
    content_base64: str = Field(description="Standard base64; HIRE_MAX_DELIVERY_BYTES decoded")
    notes: str = ""


@app.post(
    "/api/v1/ai-for-hire/tasks/<task_id>/deliver",
    summary="Deliver the work (the accepted contractor, once, before the deadline)",
    description="Starts the confirm window: the buyer confirms or disputes before it ends.",
    tags=["ai-for-hire"],
    responses={
        201: response_doc("The delivery, content included", HireDelivery),
        400: response_doc("invalid_request, invalid_content (not base64) or too_large"),
        401: response_doc("missing_token or invalid_token"),
        403: response_doc("forbidden: not the accepted contractor"),
        404: response_doc("not_found"),
        409: response_doc("invalid_state: not in escrow (already delivered), or past the deadline"),
    },
)
def deliver(task_id: str, body: HireDeliverBody) -> Response[HireDelivery]:
    # The ids are part of the request: a malformed one is 404 before any credential.
    task_id = service.parse_id(task_id)
    account = authenticate(tokens.required(header(app, "x-token"), header(app, "authorization")))
    content = service.decode_content(body.content_base64)
    return created(
        service.deliver(account, task_id, filename=body.filename, content=content, notes=body.notes)
    )


handler = make_handler(app)
