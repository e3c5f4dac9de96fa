"""POST /api/jobs"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field

from timmy.api import HttpApi, created, header, make_handler, response_doc
from timmy.jobs.service import create_job
from timmy.jobs.views import JobCreated
from timmy.observability import metrics

app = HttpApi()


class CreateJobRequest(BaseModel):
    request: str = Field(description="What Timmy should do (MAX_REQUEST_CHARS at most).")
    nostr_token: str | None = Field(
        default=None,
        description="Optional; binds the job to your Nostr identity (or send X-Nostr-Token).",
    )


@app.post(
    "/api/jobs",
    summary="Ask Timmy for work: returns the evaluation invoice",
    description=(
        "Creates a job and starts its workflow. Pay eval_invoice (the fixed evaluation fee);"
        " then poll GET /api/jobs/{job_id}: once the request is accepted it shows the work"
        " invoice, and once that is paid, the result."
    ),
    tags=["jobs"],
    responses={
        201: response_doc("The job was created; pay its eval_invoice.", JobCreated),
        400: response_doc(
            "invalid_request, empty_request, request_too_long,"
            " invalid_request_text or conflicting_tokens."
        ),
        401: response_doc("invalid_token or token_expired (nothing is stored)."),
        502: response_doc(
            "lightning_bad_response: the Lightning backend answered nonsense; nothing changed"
        ),
        503: response_doc("lightning_unavailable or workflow_unavailable (nothing is stored)."),
    },
)
def create(body: CreateJobRequest) -> Response[JobCreated]:
    job = create_job(
        body.request, header_token=header(app, "x-nostr-token"), body_token=body.nostr_token
    )
    metrics.add_metric(name="JobsCreated", unit=MetricUnit.Count, value=1)
    return created(job)


handler = make_handler(app)
