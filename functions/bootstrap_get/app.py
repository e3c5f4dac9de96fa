"""GET /api/bootstrap/{job_id}: the job's state; the SSH private key exactly once."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from timmy.api import HttpApi, base_url, make_handler, response_doc
from timmy.bootstrap.models import BootstrapStatus
from timmy.bootstrap.service import get_status

app = HttpApi()

# The first ready answer carries a private key: no cache may keep any answer.
_NO_STORE = {"Cache-Control": "no-store"}


@app.get(
    "/api/bootstrap/<job_id>",
    summary="State of a bootstrap job (the SSH private key is in one response only)",
    tags=["bootstrap"],
    responses={
        200: response_doc("The job's state, message and next steps", BootstrapStatus),
        404: response_doc("No bootstrap job with that id (or not a job id at all)"),
        503: response_doc("The key store is unavailable; nothing changed, try again"),
    },
)
def get_bootstrap(job_id: str) -> Response[BootstrapStatus]:
    status = get_status(job_id, base_url=base_url(app))
    return Response(200, "application/json", status, headers=_NO_STORE)


handler = make_handler(app)
