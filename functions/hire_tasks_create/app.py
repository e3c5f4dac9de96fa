"""POST /api/v1/ai-for-hire/tasks: post a task (the post fee, from the balance)."""

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
from timmy.hire.payment import TASK_ROUTE, payer
from timmy.hire.views import HireTask
from timmy.observability import metrics

app = HttpApi()


class HireTaskBody(BaseModel):
    title: str = Field(description="HIRE_MAX_TITLE_CHARS at most; stored as given")
    description: str = Field(description="HIRE_MAX_TEXT_CHARS at most; stored as given")
    budget_sats: StrictInt = Field(gt=0, le=2_100_000_000_000_000)


@app.post(
    "/api/v1/ai-for-hire/tasks",
    summary="Post a task (the post fee: from the balance, or by L402)",
    tags=["ai-for-hire"],
    responses={
        201: response_doc("The task", HireTask),
        400: response_doc("invalid_request, invalid_content or too_large; nothing was charged"),
        401: response_doc("invalid_token: the token names no account; invalid_l402"),
        402: response_doc(
            "payment_required with an L402 challenge for the fee (no credential: bound to a"
            " new account whose token is in the body; an L402 credential that cannot pay:"
            " bound to its account) or insufficient_balance (with topup_url); nothing was"
            " charged",
            L402ChallengeEnvelope,
        ),
    },
)
def create_task(body: HireTaskBody) -> Response[HireTask]:
    service.check_task_text(body.title, body.description)
    paying = payer(
        header(app, "x-token"),
        header(app, "authorization"),
        route_id=TASK_ROUTE,
        base_url=base_url(app),
    )
    task = service.create_task(
        paying.account,
        title=body.title,
        description=body.description,
        budget_sats=body.budget_sats,
        base_url=base_url(app),
        credential=paying.credential,
    )
    metrics.add_metric(name="HireTasksPosted", unit=MetricUnit.Count, value=1)
    return created(task)


handler = make_handler(app)
