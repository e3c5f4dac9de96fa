"""POST /api/jobs/{job_id}/refund"""

from __future__ import annotations

from pydantic import BaseModel, Field

from timmy.api import HttpApi, error_doc, make_handler, ok_doc
from timmy.jobs.service import refund_job
from timmy.jobs.views import JobRefunded

app = HttpApi()


class RefundRequest(BaseModel):
    invoice: str = Field(
        description="A BOLT11 invoice of yours for exactly the job's refundable_sats."
    )


@app.post(
    "/api/jobs/<job_id>/refund",
    summary="Claim a job's refundable amount",
    description=(
        "Pays the invoice once. The refund is marked before any money moves, so concurrent"
        " calls pay at most once; a payment that definitely failed can be claimed again."
    ),
    tags=["jobs"],
    responses={
        200: ok_doc("The refund was paid (or is in flight).", JobRefunded),
        400: error_doc(
            "invalid_invoice, invoice_amount_required, invoice_expired,"
            " own_invoice or refund_amount_mismatch."
        ),
        404: error_doc("job_not_found (also for an id that is not a UUID)."),
        409: error_doc("nothing_refundable, already_refunded or refund_in_progress."),
        502: error_doc("payment_failed (nothing was paid; try again)."),
        503: error_doc("lightning_unavailable (outcome unknown: the refund stays pending)."),
    },
)
def refund(job_id: str, body: RefundRequest) -> JobRefunded:
    return refund_job(job_id, body.invoice)


handler = make_handler(app)
