"""POST /api/v1/ai-for-hire/tasks/{task_id}/confirm: the buyer confirms a delivery; the escrow
is credited to the contractor."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from timmy.accounts import tokens
from timmy.accounts.service import authenticate
from timmy.api import HttpApi, header, make_handler, response_doc
from timmy.hire import service
from timmy.hire.views import HireConfirmed
from timmy.observability import metrics

app = HttpApi()


@app.post(
    "/api/v1/ai-for-hire/tasks/<task_id>/confirm",
    summary="Confirm the delivery (the buyer): the escrow goes to the contractor",
    tags=["ai-for-hire"],
    responses={
        200: response_doc("Completed", HireConfirmed),
        401: response_doc("missing_token or invalid_token"),
        403: response_doc("forbidden: not the task's buyer"),
        404: response_doc("not_found"),
        409: response_doc("invalid_state: nothing delivered, or already confirmed"),
    },
)
def confirm(task_id: str) -> HireConfirmed:
    # The ids are part of the request: a malformed one is 404 before any credential.
    task_id = service.parse_id(task_id)
    account = authenticate(tokens.required(header(app, "x-token"), header(app, "authorization")))
    confirmed = service.confirm(account, task_id)
    metrics.add_metric(
        name="HireReleasedSats", unit=MetricUnit.Count, value=confirmed.released_sats
    )
    return confirmed


handler = make_handler(app)
