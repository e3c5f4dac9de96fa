"""POST /api/jobs"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, Field

from timmy.api import HttpApi, error_doc, header, make_handler, ok_doc
from timmy.jobs.service import create_job
from timmy.jobs.views import JobCreated

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
        201: ok_doc("The job was created; pay its eval_invoice.", JobCreated),
        400: error_doc(
            "invalid_request, empty_request, request_too_long,"
            " invalid_request_text or conflicting_tokens."
        ),
        401: error_doc("invalid_token or token_expired (nothing is stored)."),
        502: error_doc(
            "lightning_bad_response: the Lightning backend answered nonsense; nothing changed"
        ),
        503: error_doc("lightning_unavailable or workflow_unavailable (nothing is stored)."),
    },
)
def create(body: CreateJobRequest) -> Response[JobCreated]:
    created = create_job(
        body.request, header_token=header(app, "x-nostr-token"), body_token=body.nostr_token
    )
    # The status travels in the Response itself (not in resolver state shared by requests).
    return Response(201, "application/json", created)


handler = make_handler(app)
