"""GET /api/jobs/{job_id}"""

from __future__ import annotations

from timmy.api import HttpApi, make_handler, response_doc
from timmy.jobs.service import get_job
from timmy.jobs.views import JobView

app = HttpApi()


@app.get(
    "/api/jobs/<job_id>",
    summary="A job, as its state allows",
    description=(
        "Invoices while a payment is awaited (polling checks the invoice with the Lightning"
        " backend and moves the job on when it is paid), reason when rejected, result and"
        " costs when complete, error when failed, refundable_sats and refunded once ended."
    ),
    tags=["jobs"],
    responses={
        200: response_doc("The job.", JobView),
        404: response_doc("job_not_found (also for an id that is not a UUID)."),
    },
)
def get(job_id: str) -> JobView:
    return get_job(job_id)


handler = make_handler(app)
