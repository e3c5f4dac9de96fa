"""POST /api/v1/ai-for-hire/tasks/{task_id}/cancel and …/dispute: the buyer's ways out."""

from __future__ import annotations

from timmy.accounts import tokens
from timmy.accounts.service import authenticate
from timmy.api import HttpApi, header, make_handler, response_doc
from timmy.hire import service
from timmy.hire.views import HireTask

app = HttpApi()

_RESPONSES = {
    401: response_doc("missing_token or invalid_token"),
    403: response_doc("forbidden: not the task's buyer"),
    404: response_doc("not_found"),
}


@app.post(
    "/api/v1/ai-for-hire/tasks/<task_id>/cancel",
    summary="Cancel a task (the buyer)",
    description=(
        "An open task is cancelled and its pending quotes rejected (fees are not returned). A"
        " task in escrow whose delivery deadline has passed with nothing delivered is refunded:"
        " the escrow returns to the buyer (the workflow also does this at the deadline)."
    ),
    tags=["ai-for-hire"],
    responses={
        200: response_doc("cancelled or refunded", HireTask),
        409: response_doc("invalid_state: delivered, ended, or before the delivery deadline"),
        **_RESPONSES,
    },
)
def cancel(task_id: str) -> HireTask:
    # The ids are part of the request: a malformed one is 404 before any credential.
    task_id = service.parse_id(task_id)
    account = authenticate(tokens.required(header(app, "x-token"), header(app, "authorization")))
    return service.cancel(account, task_id)


@app.post(
    "/api/v1/ai-for-hire/tasks/<task_id>/dispute",
    summary="Dispute a delivery within the confirm window (the buyer): the escrow freezes",
    description="An operator then splits the escrow between contractor and buyer.",
    tags=["ai-for-hire"],
    responses={
        200: response_doc("disputed", HireTask),
        409: response_doc("invalid_state: nothing delivered, or the window has closed"),
        **_RESPONSES,
    },
)
def dispute(task_id: str) -> HireTask:
    # The ids are part of the request: a malformed one is 404 before any credential.
    task_id = service.parse_id(task_id)
    account = authenticate(tokens.required(header(app, "x-token"), header(app, "authorization")))
    return service.dispute(account, task_id)


handler = make_handler(app)
